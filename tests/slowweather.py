"""The weather workload with some tiles made slow (a test helper).

Tiles whose id is a multiple of 3 sleep 20 ms per task, so idle workers steal
them and tiles migrate between ranks: this exercises halos sent ahead to the
wrong rank and corrected at the round boundary.
"""

import time

from hpcmicro.workloads.weather import Weather


class SlowWeather(Weather):
    def run_task(self, task_id):
        if (task_id % self.grid.n_tiles) % 3 == 0:
            time.sleep(0.02)
        return super().run_task(task_id)
