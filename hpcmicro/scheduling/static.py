"""``static``: one block partition by estimated cost, decided at the start.

It is the baseline: no messages during the run except results.  It fails
whenever the estimates are wrong or the tasks are skewed within a block.
"""

from __future__ import annotations

from .base import MasterPolicy, WorkerPolicy, affinity_placement, block_placement


class StaticMaster(MasterPolicy):
    """Cut the task list, in id order, into equal-cost contiguous blocks."""

    name = "static"

    def initial(self, ids, costs):
        """Contiguous blocks of equal estimated cost, one per worker."""
        return block_placement(ids, costs, self.workers)

    def place_round(self, ids, costs, holders):
        """The first round's blocks, kept for every later round."""
        if holders is None:
            return block_placement(ids, costs, self.workers)
        return affinity_placement(ids, costs, holders, self.workers)


class StaticWorker(WorkerPolicy):
    """Run the block you were given; never ask for more, never give any away."""

    name = "static"
