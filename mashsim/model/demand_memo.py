"""A per-process memo of a one-hub scenario's demand draws, shared by its staffings.

`plan` simulates each hub alone (`Scenario.hub_alone`), and every candidate staffing of
the hub runs replication r with the same named streams (common random numbers), so
they draw the very same referrals and partner discussions. Drawing them costs ≈5 ms a
hub replication (of 17–65 ms), so a worker keeps them: `hub_demand` returns the memo's
arrays when (what the draws read, hub, seed, replication, calendar) was drawn before in
this process, else draws and keeps them. The draws are a pure function of that key, so
results are identical, byte for byte, with or without the memo.

Only where asked (`keeping_demand`: `plan`'s replications, which know that their
hub's replication r comes back at other staffings), and only one-hub scenarios. Kept
without reuse, the arrays would only hold memory: a run's replications are each drawn
once, and a one-hub run of 100,000 referrals would keep 15 MB a replication that the
next one then cannot reuse (fresh pages for its own: M/M/10 measured 3 % slower).

A replication of a force (9 hubs, 387) runs its hubs one group
at a time so that memory follows one group; keeping every hub's draws would hold
≈178 bytes a referral (all of them: 11.4 MiB for the default's year) at the metrics'
peak, against the ≤ 300 bytes a referral that a run may take (276 today; see
docs/background/performance.md). A one-off run never hits anyway (each replication
is drawn once); a sweep over a force's staffing would, and is left drawing.

The key. `demand_digest` hashes the scenario's JSON without the fields that only say
who works (`DRAW_BLIND`: rosters, roles, attendees, absences, overtime, pooling,
patterns), so each staffing of a hub maps to one entry; everything else is in it,
including what the draws do not read today (names, queue, targets: a miss costs a
draw, a wrong hit would cost a wrong answer). `tests/test_demand_memo.py` checks that
the draws read none of the left-out fields. The calendar's own settings are in the
key too, so a caller's `cal` that differs from the scenario's cannot hit.

Its cost. A task reaches a worker as a freshly unpickled scenario, so the digest is
computed there: pydantic's JSON dump and a blake2b hash take ≈0.07 ms on the default
scenario (`to_dict` + `json.dumps` ≈0.4 ms), ≈1.5 % of what a hit saves; the last
scenario's digest is kept. Carrying a digest computed in the parent in the pickle
would save that 0.07 ms but needs the scenario schema and the executors to know about
the model's memo.

Its bound. At most `MEMO_MAX_BYTES` (64 MiB) of arrays per process, least recently
used first out (Reading's half-year: 0.4 MiB a replication, Oxfordshire's 1.6 MiB), so
a long plan holds no more than that. The arrays are read-only: a later in-place write
fails loudly instead of changing the next replication's referrals; each hit returns
new `Referrals`/`PartnerDiscussions` objects around them.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import fields
from typing import Any

import numpy as np

from mashsim.model.calendar import WorkingCalendar
from mashsim.model.discussions import PartnerDiscussions, draw_partner_discussions
from mashsim.model.referrals import Referrals, draw_referrals
from mashsim.model.streams import Streams
from mashsim.scenario.schema import Scenario

__all__ = ["DRAW_BLIND", "MEMO_MAX_BYTES", "DemandMemo", "clear_demand_memo", "demand_digest",
           "demand_key", "demand_memo", "hub_demand", "keeping_demand"]

MEMO_MAX_BYTES = 64 * 2**20  # arrays kept per process (≈178 bytes a referral)

#: scenario fields the demand draws never read (what `plan` and staffing sweeps vary):
#: left out of the digest so that every staffing of a hub shares its draws
DRAW_BLIND: dict[str, Any] = {
    "staffing": True,  # absences, overtime, degraded research
    "pooling": True,
    "patterns": True,
    "hubs": {"__all__": {"staff", "roles", "sd_attendees"}},
}

Demand = tuple[Referrals, PartnerDiscussions]


class DemandMemo:
    """Demand draws by key, least recently used out first once over `max_bytes`."""

    def __init__(self, max_bytes: int = MEMO_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, tuple[Demand, int]] = OrderedDict()
        self._lock = threading.Lock()  # the what-if page runs replications in threads

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Demand | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Hashable, demand: Demand) -> None:
        """Keep `demand` (its arrays made read-only); one larger than the bound is not
        kept."""
        size = _freeze(demand)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._entries[key] = (demand, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                self.bytes -= self._entries.popitem(last=False)[1][1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = self.hits = self.misses = 0

    def drop(self) -> None:
        """Free every entry, keep the counts (what a finished plan reuses no more)."""
        with self._lock:
            self._entries.clear()
            self.bytes = 0


_MEMO = DemandMemo()
#: whether this thread's replications keep their draws (`keeping_demand`)
_KEEP: ContextVar[bool] = ContextVar("mashsim_keep_demand", default=False)


@contextmanager
def keeping_demand(keep: bool = True) -> Iterator[None]:
    """Within: one-hub replications take their demand draws from the memo and keep
    them (for a caller that will run the same replication at other staffings)."""
    token = _KEEP.set(keep)
    try:
        yield
    finally:
        _KEEP.reset(token)
_last_digest: tuple[Scenario, bytes] | None = None  # (scenario, its digest): one entry


def demand_memo() -> DemandMemo:
    """This process's memo (for tests and measurements)."""
    return _MEMO


def clear_demand_memo() -> None:
    global _last_digest
    _MEMO.clear()
    _last_digest = None


def demand_digest(sc: Scenario) -> bytes:
    """A hash of everything in `sc` but `DRAW_BLIND`: equal for two staffings of a
    scenario, different when any input of the draws differs. JSON is exact here: the
    schema forbids NaN and infinities, and floats are written to round-trip."""
    global _last_digest
    last = _last_digest
    if last is not None and last[0] is sc:
        return last[1]
    digest = hashlib.blake2b(sc.model_dump_json(exclude=DRAW_BLIND).encode(),
                             digest_size=16).digest()
    _last_digest = (sc, digest)
    return digest


def demand_key(sc: Scenario, streams: Streams, cal: WorkingCalendar,
               hub: str) -> tuple[Hashable, ...]:
    """What a hub's demand draws are a pure function of."""
    calendar = (cal.start, cal.horizon_days, cal.day_start_hour, cal.day_end_hour,
                cal.working_weekdays, cal.exclude_bank_holidays)
    return demand_digest(sc), hub, streams.seed, streams.replication, calendar


def hub_demand(sc: Scenario, streams: Streams, cal: WorkingCalendar, hub: str) -> Demand:
    """`draw_referrals` and `draw_partner_discussions` of `hub`, from the memo when this
    process drew them before. Drawn afresh, not kept: outside `keeping_demand`, a
    scenario of several hubs (see the module doc) and streams of another class (a
    test's)."""
    if not _KEEP.get() or len(sc.hubs) != 1 or type(streams) is not Streams:
        return draw_referrals(sc, streams, cal, hub), draw_partner_discussions(sc, streams,
                                                                                cal, hub)
    key = demand_key(sc, streams, cal, hub)
    kept = _MEMO.get(key)
    if kept is None:
        kept = (draw_referrals(sc, streams, cal, hub),
                draw_partner_discussions(sc, streams, cal, hub))
        _MEMO.put(key, kept)
    return copy.copy(kept[0]), copy.copy(kept[1])


def _freeze(demand: Demand) -> int:
    """Make every array of `demand` read-only; their bytes (a shared array once)."""
    seen: dict[int, int] = {}
    for part in demand:
        for f in fields(part):
            a = getattr(part, f.name)
            if isinstance(a, np.ndarray):
                a.flags.writeable = False
                seen[id(a)] = a.nbytes
    return sum(seen.values())
