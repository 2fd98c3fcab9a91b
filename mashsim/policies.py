"""Queue disciplines as sort keys, computed once per job.

Every waiting line is a binary heap of (key1, key2, job) tuples, so each push and pop
costs O(log n) whatever the discipline and however long the backlog: no scan of the
queue per event. Ties fall back to arrival order, then job number (deterministic).
"""

from __future__ import annotations

import numpy as np

__all__ = ["DISCIPLINES", "queue_keys"]

DISCIPLINES = ("fifo", "risk", "deadline")


def queue_keys(
    discipline: str, entry_hours: np.ndarray, priority: np.ndarray, deadline_hours: np.ndarray
) -> tuple[list[float], list[float]]:
    """(key1, key2) per job: first in first out, by risk grade, or earliest deadline."""
    if discipline == "fifo":
        return entry_hours.tolist(), [0.0] * len(entry_hours)
    if discipline == "risk":
        return priority.astype(float).tolist(), entry_hours.tolist()
    if discipline == "deadline":
        return deadline_hours.tolist(), entry_hours.tolist()
    raise ValueError(f"unknown queue discipline {discipline!r}; expected one of {DISCIPLINES}")
