"""Queue disciplines: first in first out, by risk grade, or earliest deadline first.

This module is the one home of the disciplines: `QueueDiscipline` names them for the
scenario schema (`queue.discipline`), `QUEUES` maps each name to its queue class, and the
model builds queues only through `make_queue`. Adding a discipline is a class, a name in
the Literal and an entry in `QUEUES`, all here (like `distributions`, a named config
value that carries its own behaviour, so it sits in the scenario layer).

Each discipline is a small queue class with the same four operations. None scans the
queue: FIFO and risk priority are deques (O(1) per job; jobs join in arrival order,
which the event feeder guarantees), earliest-deadline is a binary heap (O(log n)).
Ties fall back to arrival order, then job number, so runs are deterministic.
"""

from __future__ import annotations

import heapq
import typing
from array import array
from collections import deque
from collections.abc import Sequence
from typing import Literal, Protocol

import numpy as np

__all__ = ["DISCIPLINES", "QUEUES", "SD_DISCIPLINES", "DeadlineQueue", "FifoQueue", "JobQueue",
           "PriorityQueue", "QueueDiscipline", "SdDiscipline", "make_queue"]

QueueDiscipline = Literal["fifo", "risk", "deadline"]
DISCIPLINES: tuple[QueueDiscipline, ...] = typing.get_args(QueueDiscipline)
# Strategy discussions are ordered by arrival or by their own deadline; they carry no
# separate priority, so "risk" is not offered for them.
SdDiscipline = Literal["fifo", "deadline"]
SD_DISCIPLINES: tuple[SdDiscipline, ...] = typing.get_args(SdDiscipline)


class JobQueue(Protocol):
    def push(self, job: int) -> None: ...
    def pop(self) -> int: ...
    def requeue(self, job: int) -> None: ...
    def peek_key(self) -> tuple[float, ...]: ...
    def __len__(self) -> int: ...


class FifoQueue(deque[int]):
    """First in, first out; a handed-back job goes to the front, where it came from.

    The queue is the deque itself: `push`, `pop`, `len()` and truth are deque's C
    methods, with no Python call between the event loop and the line (the engine
    asks a FIFO queue for its length and head a few times a job)."""

    __slots__ = ("_entry",)

    def __init__(self, entry: Sequence[float]) -> None:
        super().__init__()
        self._entry = entry

    @classmethod
    def build(cls, entry: Sequence[float], priority: np.ndarray,
              deadline: np.ndarray) -> FifoQueue:
        return cls(entry)

    push = deque.append
    pop = deque.popleft  # type: ignore[assignment]
    requeue = deque.appendleft

    def peek_key(self) -> tuple[float, ...]:
        return (self._entry[self[0]],)

    def __repr__(self) -> str:
        return f"FifoQueue({list(self)})"


class PriorityQueue:
    """Lowest priority number first, FIFO within a level (one deque per level)."""

    __slots__ = ("_entry", "_levels", "_n", "_priority")

    def __init__(self, priority: Sequence[int], entry: Sequence[float]) -> None:
        self._priority, self._entry = priority, entry
        self._levels: list[deque[int]] = [deque() for _ in range(max(priority, default=0) + 1)]
        self._n = 0

    @classmethod
    def build(cls, entry: Sequence[float], priority: np.ndarray,
              deadline: np.ndarray) -> PriorityQueue:
        # one slot a job, without a Python object each (a list costs 8 bytes a slot)
        p = np.asarray(priority, dtype=np.int64)
        small = not p.size or (int(p.min()) >= -128 and int(p.max()) <= 127)
        slots = array("b" if small else "q")
        slots.frombytes(p.astype(np.int8 if small else np.int64).data.cast("B"))
        return cls(slots, entry)

    def push(self, job: int) -> None:
        self._levels[self._priority[job]].append(job)
        self._n += 1

    def pop(self) -> int:
        for level in self._levels:
            if level:
                self._n -= 1
                return level.popleft()
        raise IndexError("pop from an empty queue")

    def requeue(self, job: int) -> None:
        self._levels[self._priority[job]].appendleft(job)
        self._n += 1

    def peek_key(self) -> tuple[float, ...]:
        for p, level in enumerate(self._levels):
            if level:
                return (float(p), self._entry[level[0]])
        raise IndexError("peek at an empty queue")

    def __len__(self) -> int:
        return self._n


class DeadlineQueue(list[tuple[float, float, int]]):
    """Earliest deadline first, then arrival order: a heap of (deadline, entry, job).

    The queue is the heap list itself, so `len()` and truth are the list's own (the
    engine asks a queue for its length a few times a job; a Python `__len__` cost one
    Python call each)."""

    __slots__ = ("_deadline", "_entry")

    def __init__(self, deadline: Sequence[float], entry: Sequence[float]) -> None:
        super().__init__()
        self._deadline, self._entry = deadline, entry

    @classmethod
    def build(cls, entry: Sequence[float], priority: np.ndarray,
              deadline: np.ndarray) -> DeadlineQueue:
        # a float array: 8 bytes a job where a list of floats costs 32, filled in place
        # (through a `bytes` copy first, a large array cost ≈20× as much)
        slots = array("d")
        slots.frombytes(np.ascontiguousarray(deadline, dtype=np.float64).data.cast("B"))
        return cls(slots, entry)

    def push(self, job: int) -> None:
        heapq.heappush(self, (self._deadline[job], self._entry[job], job))

    def pop(self) -> int:  # type: ignore[override]
        return heapq.heappop(self)[2]

    requeue = push

    def peek_key(self) -> tuple[float, ...]:
        return self[0][:2]

    def __repr__(self) -> str:
        return f"DeadlineQueue({list.__repr__(self)})"


class _Builder(Protocol):
    def __call__(self, entry: Sequence[float], priority: np.ndarray,
                 deadline: np.ndarray) -> JobQueue: ...


QUEUES: dict[str, _Builder] = {
    "fifo": FifoQueue.build,
    "risk": PriorityQueue.build,
    "deadline": DeadlineQueue.build,
}


def make_queue(
    discipline: str, entry_hours: Sequence[float], priority: np.ndarray,
    deadline_hours: np.ndarray,
) -> JobQueue:
    """The queue for a discipline, given each job's entry time, priority and deadline."""
    build = QUEUES.get(discipline)
    if build is None:
        raise ValueError(f"unknown queue discipline {discipline!r}; expected one of "
                         f"{DISCIPLINES}")
    return build(entry_hours, priority, deadline_hours)
