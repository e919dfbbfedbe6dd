"""The weather workload with some tiles made slow (a test helper).

Tiles whose id is a multiple of 3 sleep 20 ms per task, so idle workers steal
them and tiles migrate between ranks: pieces sent to the rank that held a
tile must be forwarded to its new holder.
"""

import time

from hpcmicro.workloads.weather import Weather


class SlowWeather(Weather):
    def run_resident(self, task_id, inputs):
        if (task_id % self.grid.n_tiles) % 3 == 0:
            time.sleep(0.02)
        return super().run_resident(task_id, inputs)
