"""Queue disciplines, as the model has always imported them.

The disciplines live in `mashsim.scenario.disciplines` (their names are part of the
scenario schema, so they sit in the scenario layer, next to the distributions); this
module keeps the documented path `mashsim.model.policies` working.
"""

from __future__ import annotations

from mashsim.scenario.disciplines import (
    DISCIPLINES,
    DeadlineQueue,
    FifoQueue,
    JobQueue,
    PriorityQueue,
    make_queue,
)

__all__ = ["DISCIPLINES", "DeadlineQueue", "FifoQueue", "JobQueue", "PriorityQueue",
           "make_queue"]
