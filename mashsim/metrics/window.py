"""One scope's records over the reporting window: the arrays several metrics share.

`Window` holds a replication's records for one scope (a hub, or all hubs force-wide) and
computes, once and only when a metric asks, the intermediate arrays that the metrics
declared in `mashsim.metrics.registry` read: who arrived in the window, their staff waits,
decision and strategy-discussion breach flags, the point-in-time counts. Everything is
vectorised numpy after the run, so measuring costs nothing inside the event loop. The
window is [warm-up end, horizon]. Per-referral metrics count referrals that arrived in
the window; backlog figures count everything in the MASH at the moment, whenever it
arrived. Referrals still open at the end are counted by their age, never dropped.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar, overload

import numpy as np

from mashsim.model.replication import HubRecord, Referrals, TeamRecord
from mashsim.model.staffing import CapacitySchedule
from mashsim.model.work import WorkRecord
from mashsim.scenario.schema import Scenario

__all__ = [
    "SD_14D_HOURS",
    "SD_72H_HOURS",
    "STAGES",
    "ForceWideBuffers",
    "MeasuredTeam",
    "SlimRecord",
    "Window",
    "breach_flags",
    "count_open",
    "daily_backlog",
    "masked_difference",
    "max_open",
    "overlap_hours",
    "ratio",
    "slim_team",
    "sorted_times",
    "staff_hours_cost",
]

SD_72H_HOURS = 72.0
SD_14D_HOURS = 14 * 24.0
STAGES = ("awaiting_rpa", "staff_queue", "in_progress", "sd_pending")

# Elements per block where a per-element temporary is only reduced or gathered (a max, a
# subset): a force-wide array is millions long, its temporaries need not be (64 KiB).
_BLOCK = 1 << 13


_T = TypeVar("_T")


class _cached_property(Generic[_T]):
    """`functools.cached_property` without its lock: on Python 3.11 every first read of
    each took an RLock (≈1 µs; a window has a dozen, a replication ≈10 windows), and a
    window is only ever read by the thread that made it. The value goes into the
    instance's `__dict__`, which later reads find first."""

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _cached_property[_T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> _T: ...

    def __get__(self, obj: object | None, owner: type | None = None
                ) -> _cached_property[_T] | _T:
        if obj is None:
            return self
        value = self.compute(obj)
        obj.__dict__[self.name] = value
        return value


Count = float | np.integer[Any]  # a count or sum: `np.count_nonzero` gives numpy ints


def ratio(num: Count, den: Count) -> float:
    """num / den, NaN when nothing was counted (a rate with no cases has no value)."""
    return float(num) / float(den) if den > 0 else float("nan")


@dataclass
class MeasuredTeam(TeamRecord):
    """A team whose busy on-duty hours over the window were computed while its busy
    spells were at hand (`slim_team`); the spells are gone, the sum stays. Its rostered
    hours over the window, where the hub's own utilisation computed them (None: not)."""

    busy_hours: float = float("nan")
    rostered_hours: float | None = None


def slim_team(team: TeamRecord, busy_hours: float,
              rostered_hours: float | None = None) -> MeasuredTeam:
    """`team` with its busy on-duty hours over the window (`Window.team_busy_hours`)
    kept and its spells dropped: utilisation sums these per team in team order, so the
    figure is unchanged; likewise its rostered hours, if known (the force-wide window
    then need not integrate its schedule again)."""
    return MeasuredTeam(np.empty((0, 2)), team.schedule, busy_hours, rostered_hours)


def _team_busy_hours(team: TeamRecord, lo: float, hi: float) -> float:
    if isinstance(team, MeasuredTeam):
        return team.busy_hours
    return _busy_on_duty_hours(team.busy, team.schedule, lo, hi)


def _team_rostered_hours(team: TeamRecord, lo: float, hi: float) -> float:
    if isinstance(team, MeasuredTeam) and team.rostered_hours is not None:
        return team.rostered_hours
    return team.schedule.staff_hours(lo, hi)


@dataclass
class SlimRecord(HubRecord):
    """A hub's record cut to what the force-wide window reads (see
    `mashsim.metrics.compute.slim_record`): per stage, the waits its own window gave
    (`Window.stage_wait`: those of the referrals that joined the stage, element by
    element the same as the force-wide window's) instead of the entries and starts they
    came from; and the staff waits (`Window.wait`) instead of the staff starts."""

    stage_wait: dict[str, np.ndarray] = field(default_factory=dict)
    staff_wait: np.ndarray = field(default_factory=lambda: np.empty(0))


class _View:
    """Several hubs' records seen as one, for the force-wide figures.

    `release`: each per-referral array of the records is dropped as soon as it has been
    joined into the force-wide one, so that joining costs one array's copy at a time,
    not a second copy of everything (a national run's records are hundreds of MB).
    One record's arrays are used as they are, not copied (a hub's own window: its
    metrics read them, nothing writes to them)."""

    def __init__(self, records: Sequence[HubRecord], force_wide: bool,
                 release: bool = False) -> None:
        def cat(name: str) -> np.ndarray:
            out = _join([getattr(r, name) for r in records])
            for r in records if release else ():
                setattr(r, name, _EMPTY)
            return out

        def cat_refs(name: str) -> np.ndarray:
            out = _join([getattr(r.referrals, name) for r in records])
            for r in records if release else ():
                setattr(r.referrals, name, _EMPTY)
            return out

        def cat_stages(name: str) -> dict[str, np.ndarray]:
            by_stage: dict[str, np.ndarray] = getattr(records[0], name)
            out = {}
            for s in list(by_stage):
                out[s] = _join([getattr(r, name)[s] for r in records])
                for r in records if release else ():
                    getattr(r, name)[s] = _EMPTY
            return out

        if len(records) == 1 and not release:  # one record, read as it is (`_join`)
            self.refs = records[0].referrals
        else:
            self.refs = Referrals(**{f: cat_refs(f) for f in Referrals.__dataclass_fields__})
        self.start = cat("staff_start")
        self.end = cat("staff_end")
        self.sd_held = cat("sd_held")
        self.notifications = cat("notifications_entered")
        self.degraded = cat("degraded")
        self.overtime = _join([r.overtime for r in records])
        self.paid_hours = np.sum([r.paid_staff_hours_per_day for r in records], axis=0)
        self.available_hours = np.sum([r.available_staff_hours_per_day for r in records], axis=0)
        self.force_wide = force_wide
        pools = {r.pool_key: r.staff for r in records}  # a pooled team counts once
        if force_wide and records[0].overflow_team is not None:
            pools["overflow_team"] = records[0].overflow_team  # it serves every hub
        self.staff = list(pools.values())
        self.stage_entry = cat_stages("stage_entry")
        self.stage_start = cat_stages("stage_start")
        slim = all(isinstance(r, SlimRecord) for r in records)
        self.stage_wait = cat_stages("stage_wait") if slim else None
        self.staff_wait = cat("staff_wait") if slim else None
        roles: dict[str, tuple[str, Any]] = {}  # pool key → (role, team): pooled counts once
        for r in records:
            for role, team in r.roles.items():
                roles[r.role_keys[role]] = (role, team)
        self.role_teams = list(roles.values())
        if release:
            _join_work(records)
        self.records = records


_EMPTY = np.empty(0)


def _join_work(records: Sequence[HubRecord]) -> None:
    """The records' work streams joined, field by field, into the first record's,
    each hub's array dropped once copied (the force-wide window: the work metrics then
    read one record as it is, not a second copy of every hub's)."""
    parts = [r.work for r in records if r.work is not None]
    if len(parts) < 2:
        return
    joined = {}
    for f in fields(WorkRecord):
        joined[f.name] = np.concatenate([getattr(p, f.name) for p in parts])
        for p in parts:
            setattr(p, f.name, _EMPTY)
    first = next(r for r in records if r.work is not None)
    for r in records:
        r.work = None
    first.work = WorkRecord(**joined)


def _join(arrays: list[np.ndarray]) -> np.ndarray:
    """The arrays end to end: a single one as it is (no copy), and so one whose others
    are all empty and of its type (`ForceWideBuffers.restore` leaves them so)."""
    if len(arrays) == 1:  # what the lines below give one array, without their cost
        return arrays[0]
    full = [a for a in arrays if len(a)]
    if len(full) == 1 and all(a.dtype == full[0].dtype for a in arrays):
        return full[0]
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


# A buffer starts in the C heap, doubling there up to `_HEAP_BYTES` (a small run's
# fields: a 7-day replication of the summer scenario maps nothing, where its buffers,
# each mapped from a page and grown, made 78 maps at ≈13 µs each), then moves to a
# mapping of at least `_FIRST_MAP_BYTES`, reserved, not resident until written.
_FIRST_HEAP_BYTES = 1 << 12
_HEAP_BYTES = 1 << 14
_FIRST_MAP_BYTES = 1 << 18


class _Buffer:
    """One growable force-wide array. Past `_HEAP_BYTES`, in anonymous memory mapped
    from the system (not the C heap): growing copies it to a new mapping twice the size
    and unmaps the old, which returns it, so a large one never needs, nor leaves, a hole
    in a heap fragmented by the hubs' models; pages reserved but not yet written are not
    resident. Nothing is held until an element comes (a slim record's dropped fields
    are always empty)."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype, self.n = dtype, 0
        self.mem: mmap.mmap | None = None
        self.array = np.empty(0, dtype)  # the whole buffer (a view of `mem`, if mapped)

    def append(self, a: np.ndarray) -> None:
        if not (a.dtype == self.dtype and self.dtype.isnative):  # else: its own type
            dtype = np.result_type(self.dtype, a.dtype)  # as np.concatenate would
            if dtype != self.dtype:
                self._retype(dtype)
        if not len(a):
            return
        end = self.n + len(a)
        if end > len(self.array):
            self._grow(max(end * self.dtype.itemsize, 2 * self.array.nbytes,
                           _FIRST_HEAP_BYTES))
        self.array[self.n:end] = a
        self.n = end

    def view(self, lo: int, hi: int) -> np.ndarray:
        return self.array[lo:hi]

    def _grow(self, nbytes: int) -> None:
        mem = None
        if nbytes <= _HEAP_BYTES:
            array = np.empty(nbytes // self.dtype.itemsize, self.dtype)
        else:
            pages = -(-max(nbytes, _FIRST_MAP_BYTES) // mmap.PAGESIZE)
            mem = mmap.mmap(-1, pages * mmap.PAGESIZE)
            array = np.frombuffer(mem, self.dtype, len(mem) // self.dtype.itemsize)
        array[:self.n] = self.view(0, self.n)
        self._unmap()
        self.mem, self.array = mem, array

    def _unmap(self) -> None:
        self.array = np.empty(0, self.dtype)  # the view first: a viewed map cannot close
        if self.mem is not None:
            self.mem.close()
            self.mem = None

    def _retype(self, dtype: np.dtype) -> None:
        old = self.view(0, self.n).astype(dtype)
        self._unmap()
        self.dtype, self.n = dtype, 0
        self.array = np.empty(0, dtype)
        self.append(old)


class ForceWideBuffers:
    """The force-wide window's per-referral and work arrays, written hub by hub as
    each hub finishes (`take`) into one growable buffer per field, instead of joined
    from every hub's arrays at the end: the join needed, per field, one new block the
    size of the force that the freed per-hub arrays, scattered in the heap, could not
    serve (≈120 bytes a referral of resident memory on the default). The values and
    their order are those of the join."""

    def __init__(self) -> None:
        self._bufs: dict[tuple[str, str], _Buffer] = {}
        self._work = False

    def _add(self, key: tuple[str, str], a: np.ndarray) -> np.ndarray:
        """Append `a` to its field's buffer; an empty array of its type to leave."""
        buf = self._bufs.get(key)
        if buf is None:
            buf = self._bufs[key] = _Buffer(a.dtype)
        buf.append(a)
        return _empty_like(a)

    def take(self, rec: SlimRecord) -> None:
        """Copy `rec`'s arrays in and leave it empty ones (its own type each)."""
        refs = rec.referrals
        for f in Referrals.__dataclass_fields__:
            setattr(refs, f, self._add(("referrals", f), getattr(refs, f)))
        for f in _TAKEN_RECORD_FIELDS:
            setattr(rec, f, self._add(("record", f), getattr(rec, f)))
        for s, wait in rec.stage_wait.items():
            rec.stage_wait[s] = self._add(("stage_wait", s), wait)
        if rec.work is not None:
            self._work = True
            for f in _WORK_FIELDS:
                setattr(rec.work, f, self._add(("work", f), getattr(rec.work, f)))

    def restore(self, records: Sequence[SlimRecord]) -> None:
        """Give the first record every joined array (the others: empty ones of its
        type) and the first record with work streams the joined work record (the others
        none), as `Window(..., release=True)` reads them; the buffers are then theirs."""
        if not records:
            return
        joined = {key: buf.view(0, buf.n) for key, buf in self._bufs.items()}
        for i, rec in enumerate(records):
            for (kind, name), a in joined.items():
                value = a if i == 0 else a[:0]
                if kind == "referrals":
                    setattr(rec.referrals, name, value)
                elif kind == "record":
                    setattr(rec, name, value)
                elif kind == "stage_wait":
                    rec.stage_wait[name] = value
        first = next((r for r in records if r.work is not None), None)
        for r in records:
            r.work = None
        if first is not None and self._work:
            first.work = WorkRecord(**{name: a for (kind, name), a in joined.items()
                                       if kind == "work"})
        self._bufs.clear()


def _empty_like(a: np.ndarray) -> np.ndarray:
    """An empty array of `a`'s type that, unlike `a[:0]`, does not keep `a` alive
    (`a` itself if it is one: empty and a view of nothing)."""
    return a if len(a) == 0 and a.base is None else np.empty(0, a.dtype)


_RECORD_FIELDS = ("staff_start", "staff_end", "sd_held", "notifications_entered", "degraded")
_TAKEN_RECORD_FIELDS = (*_RECORD_FIELDS, "staff_wait")
_WORK_FIELDS = tuple(f.name for f in fields(WorkRecord))


def staff_hours_cost(records: Sequence[HubRecord], first_day: int, warmup: float) -> float:
    """Rostered cost (paid staff-hours of each role from the window's first whole day ×
    its hourly cost) plus overtime (staff-hours of blocks starting in the window × the
    overtime rate of the role they join, `overtime.premium` included)."""
    total = 0.0
    for r in records:
        for role, paid in r.role_paid_hours_per_day.items():
            total += float(paid[first_day:].sum()) * r.role_hourly_cost[role]
        if len(r.overtime):
            total += float(r.overtime[r.overtime[:, 0] >= warmup, 1].sum()
                           ) * r.overtime_hourly_cost
    return total


def breach_flags(
    deadline_hours: np.ndarray, done_hours: np.ndarray, end_hours: float
) -> tuple[np.ndarray, np.ndarray]:
    """(resolved, late) per item: done, or past its deadline, by `end_hours`; and late.

    The one definition of a breach for decisions and strategy discussions, so `run`
    and anything re-deriving it (a backtest) agree: an item done after its deadline,
    or still not done with the deadline passed; items not done and not yet due are
    left out. `done_hours` is NaN (or > end) for items not done by the end; deadlines
    come from `referrals.target_deadline_hours`, which honours `starts_at`.
    """
    done = np.asarray(done_hours, dtype=float)
    deadline = np.asarray(deadline_hours, dtype=float)
    finished = done <= end_hours  # NaN compares False
    resolved = finished | (deadline <= end_hours)
    late = resolved & (np.where(finished, done, end_hours) > deadline)
    return resolved, late


def overlap_hours(a: np.ndarray, b: np.ndarray, lo: float, hi: float,
                  own: bool = False) -> np.ndarray:
    """Hours of each [a, b) inside [lo, hi] (computed in one output array: a national
    run's force-wide arrays are millions long). `own`: `b` is the caller's scratch,
    overwritten with the result (no second array)."""
    out = np.minimum(b, hi, out=b if own else None)
    for i in range(0, len(out), _BLOCK):  # max(a, lo) a block at a time
        out[i:i + _BLOCK] -= np.maximum(a[i:i + _BLOCK], lo)
    return np.clip(out, 0.0, None, out=out)


def masked_difference(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`(a - b)[mask]`, the differences taken a block at a time: no temporary as long
    as the inputs (a force-wide window's are millions long)."""
    out = np.empty(int(np.count_nonzero(mask)))
    at = 0
    for i in range(0, len(mask), _BLOCK):
        part = (a[i:i + _BLOCK] - b[i:i + _BLOCK])[mask[i:i + _BLOCK]]
        out[at:at + len(part)] = part
        at += len(part)
    return out


def _busy_on_duty_hours(
    segments: np.ndarray, schedule: CapacitySchedule, lo: float, hi: float
) -> float:
    """∫ min(people busy, people rostered) dt over [lo, hi].

    The segments are on-duty busy spells (a leaver's overrun is already cut off, work in
    progress runs to the end); the cap against the roster leaves out overtime, which is
    not rostered time, so utilisation never exceeds 1. Each temporary is dropped once
    read (a large hub's spells are tens of thousands: their arrays, not the sum, set
    the peak memory of its metrics).
    """
    if len(segments) == 0:
        return 0.0
    pts, busy = _open_between(segments, schedule.times_hours, lo, hi)
    mid = pts[:-1] + pts[1:]
    mid /= 2.0  # (a + b) / 2.0, computed in place
    capped = np.minimum(busy, schedule.at(mid))
    del mid, busy
    span = pts[1:] - pts[:-1]  # `np.diff(pts)`, without its wrapper's cost
    del pts
    return float(np.multiply(capped, span, out=span).sum())


def _open_between(segments: np.ndarray, times_hours: np.ndarray, lo: float,
                  hi: float) -> tuple[np.ndarray, np.ndarray]:
    """The distinct points of [lo, hi] where a spell starts or ends or the roster
    changes (as `np.unique` gives them), and how many spells are open between each and the next.

    One stable sort of every point, each start +1 and each end −1: the running sum at
    the last of equal points is the open count just after it (the same integers as
    counting the spells around each midpoint, `count_open`, without sorting the starts
    and ends again and searching twice: ≈2× faster on a year's spells). A point
    outside [lo, hi] is clipped to it, which leaves every count inside unchanged. The
    points are clipped in place and the steps are bytes, each array dropped once read:
    about half the memory of one array per step."""
    k = len(segments)
    pts = np.concatenate((segments[:, 0], segments[:, 1], times_hours, [lo, hi]))
    np.clip(pts, lo, hi, out=pts)
    order = np.argsort(pts, kind="stable")  # the order `sorted_times` puts them in
    pts = pts[order]
    step = np.zeros(len(pts), dtype=np.int8)
    step[:k], step[k:2 * k] = 1, -1
    step = step[order]
    del order
    # int32: a year's spells are far fewer than 2**31, and the widening from bytes to
    # int32 is ≈15× faster than to int64 (same integers)
    running = np.cumsum(step, dtype=np.int32)
    del step
    first, last = np.empty(len(pts), dtype=bool), np.empty(len(pts), dtype=bool)
    first[0], last[-1] = True, True
    np.not_equal(pts[1:], pts[:-1], out=first[1:])
    last[:-1] = first[1:]
    return pts[first], running[last][:-1]


def sorted_times(a: np.ndarray) -> np.ndarray:
    """`np.sort` by a stable merge sort: the model's times (arrivals, ends, busy
    spells) come nearly in order, which it sorts in about linear time where the
    default sort takes n log n (≈10× faster on a year's arrivals; same values)."""
    return np.sort(a, kind="stable")


def max_open(starts: np.ndarray, ends: np.ndarray, lo: float, hi: float) -> float:
    """Largest number of [start, end) intervals open at once at any moment of [lo, hi]
    (ends NaN: still open); those open at `lo` count from `lo`."""
    finite = np.isfinite(ends)
    keep = starts <= hi
    keep &= ~finite | (ends > lo)
    kept_starts = starts[keep]
    np.maximum(kept_starts, lo, out=kept_starts)  # in place: no second copy
    keep &= finite
    del finite
    kept_ends = ends[keep]
    del keep
    return _step_max(kept_starts, kept_ends, own=True)


def _step_max(starts: np.ndarray, ends: np.ndarray, own: bool = False) -> float:
    """Largest number of [start, end) intervals open at once (ends before starts at ties).

    `own`: the arrays are the caller's scratch, sorted in place (no copies)."""
    if len(starts) == 0:
        return 0.0
    # The count peaks just after a start: after the i-th start in time order (1-based),
    # i are open less the ends at or before it. Two sorts and a search, a block of
    # starts at a time: no array but the inputs is as long as they are.
    if own:
        starts.sort(kind="stable")
        ends.sort(kind="stable")
    else:
        starts, ends = sorted_times(starts), sorted_times(ends)
    most = 0
    for lo in range(0, len(starts), _BLOCK):
        block = starts[lo:lo + _BLOCK]
        ends_before = np.searchsorted(ends, block, side="right")
        ends_before -= np.arange(lo + 1, lo + len(block) + 1)  # minus the count open after
        most = max(most, -int(ends_before.min()))
    return float(max(0, most))


class Window:
    """One scope's records seen over the window; shared arrays computed once, on demand."""

    def __init__(self, records: Sequence[HubRecord], scenario: Scenario,
                 force_wide: bool, release: bool = False) -> None:
        self.v = _View(records, force_wide, release)
        self.refs = self.v.refs
        self.scenario = scenario
        self.warmup, self.horizon = scenario.warmup_hours, scenario.horizon_hours
        self._busy_hours: dict[int, tuple[TeamRecord, float]] = {}  # id → (team, hours)
        self._rostered_hours: dict[int, tuple[TeamRecord, float]] = {}  # likewise
        # a hub's stage waits, each read by two metrics and its slim record (the
        # force-wide window's are its records' own, or computed once a metric each)
        self._stage_wait: dict[str, np.ndarray] | None = None if force_wide else {}
        self._grade_mask: dict[int, np.ndarray] = {}
        # what `mashsim.metrics.work` computes once per window (its joined work record,
        # the partner discussions' breach flags), kept with the window
        self.work_shared: dict[str, Any] = {}

    @_cached_property
    def incl(self) -> np.ndarray:
        """Referrals that arrived in the window."""
        return self.refs.entered >= self.warmup

    @_cached_property
    def done(self) -> np.ndarray:
        """Of those, decided by the end."""
        return np.isfinite(self.v.end) & self.incl

    @_cached_property
    def queued(self) -> np.ndarray:
        """Of those, handed to the staff queue by the end."""
        return self.incl & (self.refs.handover <= self.horizon)

    @_cached_property
    def wait(self) -> np.ndarray:
        """Staff wait in hours (open ones: their wait so far); slim records: the waits
        their own windows computed, element by element the same."""
        if self.v.staff_wait is not None:
            return self.v.staff_wait
        wait = np.where(np.isfinite(self.v.start), self.v.start, self.horizon)
        wait -= self.refs.handover  # in place: one array, not two
        return wait

    def grade_mask(self, grade: int) -> np.ndarray:
        """Referrals of one risk grade (by index in `GRADES`), computed once per grade: a
        byte per referral, read by the grade's mean wait and breach rate."""
        mask = self._grade_mask.get(grade)
        if mask is None:
            mask = self._grade_mask[grade] = self.refs.grade_idx == grade
        return mask

    def mean_wait(self, mask: np.ndarray) -> float:
        """Mean staff wait over `mask` (NaN if empty)."""
        return float(self.wait[mask].mean()) if mask.any() else np.nan

    @property
    def end_or_now(self) -> np.ndarray:
        """Decision time, or the horizon for those still open: a fresh array each time,
        not kept (its two readers are far apart in the metrics' order)."""
        return np.where(np.isfinite(self.v.end), self.v.end, self.horizon)

    @_cached_property
    def decision(self) -> tuple[np.ndarray, np.ndarray]:
        """(resolved, late) decision-target flags of the window's referrals."""
        resolved, late = breach_flags(self.refs.deadline, self.v.end, self.horizon)
        return resolved & self.incl, late & self.incl

    @_cached_property
    def strategy(self) -> tuple[np.ndarray, np.ndarray]:
        """(resolved, late) strategy-discussion deadline flags of the window's referrals."""
        need = self.incl & self.refs.sd_needed
        resolved, late = breach_flags(self.refs.sd_deadline, self.v.sd_held, self.horizon)
        return resolved & need, late & need

    @_cached_property
    def at_end(self) -> tuple[float, float, float]:
        """`point_in_time` at the horizon."""
        return _point_in_time(self.v, self.horizon)

    @_cached_property
    def at_audit(self) -> tuple[float, float, float]:
        """`point_in_time` at 00:00 on the audit date (NaN: no audit)."""
        at = self.scenario.audit_hours
        return (np.nan,) * 3 if at is None else _point_in_time(self.v, at)

    @_cached_property
    def first_day(self) -> int:
        """The first whole day of the window."""
        return int(np.ceil(self.warmup / 24.0))

    def utilisation(self) -> float:
        """Busy on-duty staff-hours / rostered staff-hours over the window: every role's
        pools where the scenario has roles (a pooled team counts once), plus the overflow
        team force-wide."""
        if not self.scenario.has_roles:
            return self._utilisation(self.v.staff)
        teams = [t for _, t in self.v.role_teams]
        overflow = self.v.records[0].overflow_team
        if self.v.force_wide and overflow is not None:
            teams.append(overflow)
        return self._utilisation(teams)

    def team_busy_hours(self, team: TeamRecord) -> float:
        """A team's busy on-duty hours over the window, computed once per team (a
        hub's slim record reuses the figure its utilisation computed)."""
        return self._once_per_team(self._busy_hours, team, _team_busy_hours)

    def team_rostered_hours(self, team: TeamRecord) -> float:
        """A team's rostered staff-hours over the window, computed once per team (the
        scope's utilisation and each role's read the same teams)."""
        return self._once_per_team(self._rostered_hours, team, _team_rostered_hours)

    def _once_per_team(self, kept: dict[int, tuple[TeamRecord, float]], team: TeamRecord,
                       figure: Callable[[TeamRecord, float, float], float]) -> float:
        """`figure(team, warm-up, horizon)`, kept by the team's id with the team (so the
        id names no other team while kept)."""
        key = id(team)
        if key not in kept:
            kept[key] = (team, figure(team, self.warmup, self.horizon))
        return kept[key][1]

    def known_rostered_hours(self, team: TeamRecord) -> float | None:
        """`team_rostered_hours` if this window has computed it, else None."""
        kept = self._rostered_hours.get(id(team))
        return None if kept is None else kept[1]

    def _utilisation(self, teams: Sequence[TeamRecord]) -> float:
        busy = sum(self.team_busy_hours(t) for t in teams)
        rostered = sum(self.team_rostered_hours(t) for t in teams)
        return ratio(busy, rostered)

    def role_utilisation(self, role: str) -> float:
        """`utilisation` of one role's pools in this scope (NaN: no such role here)."""
        return self._utilisation([t for name, t in self.v.role_teams if name == role])

    def stage_wait(self, stage: str) -> np.ndarray:
        """Waits in a stage's queue (open ones: so far) of the window's referrals that
        joined it by the end, in referral order; the others left out (the NaNs they had
        before: a force-wide slim record keeps only the waits, not a slot per referral)."""
        if self.v.stage_wait is not None:
            return self.v.stage_wait[stage]
        if self._stage_wait is None:
            return self._compute_stage_wait(stage)
        wait = self._stage_wait.get(stage)
        if wait is None:
            wait = self._stage_wait[stage] = self._compute_stage_wait(stage)
        return wait

    def _compute_stage_wait(self, stage: str) -> np.ndarray:
        entry, start = self.v.stage_entry[stage], self.v.stage_start[stage]
        joined = self.incl & (entry <= self.horizon)
        wait = np.where(np.isfinite(start), start, self.horizon)
        wait -= entry
        wait = wait[joined]
        return wait[np.isfinite(wait)]

    def stage_wait_mean(self, stage: str) -> float:
        wait = self.stage_wait(stage)
        return float(wait.mean()) if len(wait) else np.nan

    def stage_wait_over(self, stage: str, hours: float) -> float:
        wait = self.stage_wait(stage)
        return ratio(np.count_nonzero(wait > hours), len(wait))

    def cost(self) -> float:
        """`staff_hours_cost` over the window."""
        return staff_hours_cost(self.v.records, self.first_day, self.warmup)


def _point_in_time(v: _View, at: float) -> tuple[float, float, float]:
    """At one moment: strategy discussions identified but not held whose referral is older
    than 72 h and than 14 days, and the age in days of the oldest referral undecided.
    Everything in the MASH then counts, warm-up arrivals included."""
    r = v.refs
    present = r.entered <= at
    decided = present & (v.end <= at)  # NaN compares False: open
    waiting = present & ~decided
    del present
    sd_pending = decided & r.sd_needed
    sd_pending &= ~(v.sd_held <= at)
    del decided
    # ages of the pending and of the waiting only, not of every referral
    pending_age = at - r.created[sd_pending]
    del sd_pending
    oldest = float((at - r.created[waiting]).max() / 24.0) if waiting.any() else 0.0
    return (float(np.count_nonzero(pending_age > SD_72H_HOURS)),
            float(np.count_nonzero(pending_age > SD_14D_HOURS)), oldest)


def count_open(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """How many [a, b) intervals contain each time in t (b may be inf)."""
    return (np.searchsorted(sorted_times(a), t, side="right")
            - np.searchsorted(sorted_times(b), t, side="right"))


def daily_backlog(rec: HubRecord, scenario: Scenario) -> dict[str, np.ndarray]:
    """Counts by stage at the end of each day (midnight) inside the window: everything in
    the MASH at that moment, warm-up arrivals included."""
    w, horizon = scenario.warmup_hours, scenario.horizon_hours
    r = rec.referrals
    first_day = int(np.ceil(w / 24.0))
    t = 24.0 * np.arange(max(first_day, 1), int(horizon // 24.0) + 1)
    inf = np.inf
    start = np.where(np.isfinite(rec.staff_start), rec.staff_start, inf)
    end = np.where(np.isfinite(rec.staff_end), rec.staff_end, inf)
    held = np.where(np.isfinite(rec.sd_held), rec.sd_held, inf)
    sd = r.sd_needed & np.isfinite(end)
    received = np.maximum(r.handover, r.entered)
    counts = {
        "awaiting_rpa": count_open(r.entered, received, t),
        "staff_queue": count_open(received, start, t),
        "in_progress": count_open(start[np.isfinite(start)], end[np.isfinite(start)], t),
        "sd_pending": count_open(end[sd], held[sd], t),
    }
    counts["backlog"] = counts["awaiting_rpa"] + counts["staff_queue"] + counts["in_progress"]
    counts["day_end_hours"] = t
    return counts
