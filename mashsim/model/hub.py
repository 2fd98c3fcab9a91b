"""One hub's work: its job books, queues and the hooks that move a referral along.

A referral passes through the scenario's stages in order (`Scenario.stage_names`; one
implicit stage when none are described), skipping those it does not need; each stage is
a job space with its own book and queue. The first stage's book also holds early
notifications (n..n+m-1) and, when staff hold the strategy discussions, those discussions
(n+m..); the discussion book holds discussions held by attendees or by a role skilled for
them. Finishing stage k offers the referral to its next needed stage; the end of the last
deciding stage it needs is its decision, which may call for a strategy discussion. Which
people serve these queues is not decided here: `wiring` attaches pools to `stage_srcs`
and `sd_src`.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from functools import partial

import numpy as np
import simpy

from mashsim.model.calendar import WorkingCalendar
from mashsim.model.discussions import PartnerDiscussions
from mashsim.model.engine import (
    Book,
    Env,
    Feeder,
    Select,
    Source,
    first_with_work,
    flags,
    float_array,
    nan_view,
    nans,
    own_queue,
    small_ints,
)
from mashsim.model.marac import MaracMeetings
from mashsim.model.referrals import Referrals
from mashsim.scenario.disciplines import make_queue
from mashsim.scenario.schema import (
    ASM_SKILL,
    EN_SKILL,
    GRADES,
    MARAC_SKILL,
    SD_SKILL,
    Scenario,
)

__all__ = ["HubQueues"]


class HubQueues:
    """One hub's job books, queues and record-keeping."""

    def __init__(self, env: simpy.Environment, sc: Scenario, cal: WorkingCalendar,
                 hub: str, refs: Referrals, partner: PartnerDiscussions | None = None) -> None:
        self.env, self.sc, self.name, self.refs = env, sc, hub, refs
        n = self.n = len(refs)
        notif = np.flatnonzero(refs.notify)
        skilled = {sk for role in sc.hubs[hub].roles.values() for sk in role.skills}
        self.en_separate = EN_SKILL in skilled  # notifications get a queue of their own
        m = self.m = 0 if self.en_separate else len(notif)  # notifications in the staff book
        sdc = sc.strategy_discussions
        self.sd_by_staff = sdc.held_by == "staff"
        # A work stream no referral needs gets no per-referral slots (a hub's slots are
        # several fresh arrays of n; in M/M/c, with no stream on, most of the build's
        # page faults): police referrals' discussions, adult meetings, MARAC cases.
        n_sd = n if refs.sd_needed.any() else 0
        k = n_sd if self.sd_by_staff else 0  # strategy-discussion jobs in the staff book
        priority = np.array([sc.grades[g].priority for g in GRADES])
        notif_grade = sc.rpa.early_notification_queue_as
        notif_target = sc.grades[notif_grade].decision_target
        self.notif_created = refs.created[notif]
        # SD jobs get their entry when ready. Per-job slots are float arrays, not lists:
        # a list holds a float object (32 bytes) a slot, an array 8 bytes; `entry` is a
        # numpy view of the same memory.
        entry = self._entry_list = float_array(np.concatenate(
            (refs.handover, self.notif_created[:m], np.full(k, np.nan))))
        self.entry = np.frombuffer(entry)
        staff_priority = np.concatenate((
            priority[refs.grade_idx], np.full(m, priority[GRADES.index(notif_grade)]),
            np.full(k, priority[GRADES.index(sdc.staff_queue_as)])))
        notif_deadline = cal.deadline_hours(self.notif_created, notif_target.amount,
                                            notif_target.clock)
        staff_deadline = np.concatenate((refs.deadline, notif_deadline[:m], refs.sd_deadline[:k]))
        stages = [sc.stage(name) for name in sc.stage_names]
        hours = [(refs.stage_minutes[:, i] + refs.sharing_minutes) / 60.0 if st.includes_sharing
                 else refs.stage_minutes[:, i] / 60.0 for i, st in enumerate(stages)]
        service = np.concatenate((hours[0], refs.notify_hours[notif][:m],
                                  refs.sd_service_hours[:k]))
        self.degraded = np.zeros(n, dtype=bool)
        rules = [st.degraded(sc.staffing.degraded_research) for st in stages]
        self._saved_hours = [float_array(refs.stage_minutes[:, i]
                                         * (1.0 - rule.handling_factor) / 60.0)
                             if rule is not None else None
                             for i, rule in enumerate(rules)]
        self._degrade_threshold = [rule.queue_threshold if rule is not None else 0
                                   for rule in rules]
        ot = sc.staffing.overtime
        track = ot.enabled and ot.trigger == "oldest_waiting_hours"
        ref_priority = priority[refs.grade_idx]
        self.stage_entry: list[array[float]] = [entry] + [nans(n) for _ in stages[1:]]
        self.stage_books: list[Book] = []
        self.stage_srcs: list[Source] = []
        for i, st in enumerate(stages):
            first = i == 0
            hooked = rules[i] is not None or (first and k > 0)
            book = Book(service if first else hours[i],
                        on_done=partial(self._stage_done, i),
                        on_start=partial(self._started, i) if hooked else None)
            self.stage_books.append(book)
            self.stage_srcs.append(Source(book, make_queue(
                st.discipline or sc.queue.discipline, self.stage_entry[i],
                staff_priority if first else ref_priority,
                staff_deadline if first else refs.deadline), track_oldest=track))
        self.staff_book, self.staff_src = self.stage_books[0], self.stage_srcs[0]
        self._route(refs.stage_needed, [st.decides for st in stages])
        self.partner = partner
        p = len(partner) if partner is not None else 0
        # the discussion book: police referrals' (held by attendees), then partners'
        police = self.sd_police = 0 if self.sd_by_staff else n_sd
        self.sd_entry = nans(police + p)
        if p:
            assert partner is not None
            partner_priority = np.full(p, priority[GRADES.index(sdc.partner_queue_as)])
            self.sd_book = Book(np.concatenate((refs.sd_service_hours[:police],
                                                partner.service_hours)),
                                on_start=self._sd_started)
            self.sd_src = Source(self.sd_book, make_queue(
                sdc.discipline, self.sd_entry,
                np.concatenate((priority[refs.grade_idx[:police]], partner_priority)),
                np.concatenate((refs.sd_deadline[:police], partner.deadline))))
        else:
            self.sd_book = Book(refs.sd_service_hours[:police], on_start=self._sd_started)
            self.sd_src = Source(self.sd_book, make_queue(
                sdc.discipline, self.sd_entry, priority[refs.grade_idx[:police]],
                refs.sd_deadline[:police]))
        self.sd_waiting = 0
        self._sd_needed = flags(refs.sd_needed)
        self._sd_delay = float_array(refs.sd_delay_hours[:n_sd])
        self._work_streams(sc, cal, refs, notif, notif_deadline, priority)
        self._quiet_stage_ends(refs)

    def _quiet_stage_ends(self, refs: Referrals) -> None:
        """No end-of-stage hook where it would do nothing: no referral goes on from the
        stage, and none decided there needs a discussion, an adult meeting or MARAC
        (one Python call less per job, e.g. in a one-stage model)."""
        needs = refs.sd_needed | refs.asm_needed | refs.marac_needed
        for i, book in enumerate(self.stage_books):
            decided_here = self.decision_stage == i
            if not (np.asarray(self._next[i]) >= 0).any() and not (needs & decided_here).any():
                book.on_done = None

    def _work_streams(self, sc: Scenario, cal: WorkingCalendar, refs: Referrals,
                      notif: np.ndarray, notif_deadline: np.ndarray,
                      priority: np.ndarray) -> None:
        """The queues of work beyond the stages and police-referral discussions:
        early notifications (when a role is skilled for them), adult strategy meetings
        and MARAC research."""
        n = self.n
        notif_grade = GRADES.index(sc.rpa.early_notification_queue_as)
        self.en_entry = float_array(self.notif_created)
        self.en_book = Book(refs.notify_hours[notif])
        self.en_src = Source(self.en_book, make_queue(
            sc.queue.discipline, self.en_entry, np.full(len(notif), priority[notif_grade]),
            notif_deadline))
        asm = sc.adult_strategy_meetings
        self.asm_on = asm.enabled
        n_asm = n if refs.asm_needed.any() else 0  # none needed: no slots
        self.asm_entry = nans(n_asm)
        self.asm_book = Book(refs.asm_service_hours[:n_asm])
        self.asm_src = Source(self.asm_book, make_queue(
            asm.discipline, self.asm_entry, priority[refs.grade_idx[:n_asm]],
            refs.asm_deadline[:n_asm]))
        self._asm_needed = flags(refs.asm_needed)
        n_marac = n if refs.marac_needed.any() else 0
        self.marac = MaracMeetings(self.env, sc, self.name,
                                   refs.marac_research_hours[:n_marac], sc.marac.enabled)
        self._marac_needed = flags(refs.marac_needed)

    def skill_source(self, skill: str) -> Source:
        """The queue of a skill's work: a stage's, or a work stream's."""
        if skill == SD_SKILL:
            return self.sd_src
        if skill == EN_SKILL:
            return self.en_src
        if skill == ASM_SKILL:
            return self.asm_src
        if skill == MARAC_SKILL:
            return self.marac.src
        return self.stage_srcs[self.sc.stage_names.index(skill)]

    def attendee_work(self) -> tuple[list[Source], Select]:
        """What the hub's `sd_attendees` serve when no role is skilled for discussions:
        the discussions, then adult meetings and MARAC research where no role is
        skilled for them (in that order of preference)."""
        srcs = [self.sd_src]
        if self.asm_on and not self.asm_src.pools:
            srcs.append(self.asm_src)
        if self.sc.marac.enabled and not self.marac.src.pools:
            srcs.append(self.marac.src)
        if len(srcs) == 1:
            return srcs, own_queue
        return srcs, first_with_work  # in that order of preference

    def _route(self, needed: np.ndarray, decides: list[bool]) -> None:
        """Per referral: its first needed stage, the next needed stage after each, and
        the stage whose end is its decision (-1: none)."""
        n, n_stages = needed.shape
        later = np.full(n, -1)
        nxt = np.full((n_stages, n), -1)
        for i in range(n_stages - 1, -1, -1):
            nxt[i] = later
            later = np.where(needed[:, i], i, later)
        self.first_stage = later  # -1: needs no stage, decided on arrival
        deciding = needed & np.asarray(decides, dtype=bool)
        last = np.where(needed.any(1), n_stages - 1 - np.argmax(needed[:, ::-1], 1), -1)
        last_deciding = n_stages - 1 - np.argmax(deciding[:, ::-1], 1)
        self.decision_stage = np.where(deciding.any(1), last_deciding, last)
        self._next = [small_ints(row) for row in nxt]
        self._decision_stage = small_ints(self.decision_stage)
        self._first = small_ints(self.first_stage)
        # numpy views of the compact arrays (one or eight bytes a referral, not eight)
        self.first_stage, self.decision_stage = np.asarray(self._first), np.asarray(
            self._decision_stage)
        # decision time of those needing no stage (no slots when every referral needs one)
        self.arrival_decided = nans(n if (self.first_stage < 0).any() else 0)

    def feed(self) -> None:
        self._feed_streams()
        jobs = np.concatenate((np.arange(self.n), self.n + np.arange(self.m)))
        times = self.entry[: self.n + self.m]
        order = np.argsort(times, kind="stable")
        env = self.env
        if not (self.first_stage == 0).all():
            feeder = Feeder(env, times[order], jobs[order], self._arrive)
        else:
            feeder = Feeder(env, times[order], jobs[order], self.staff_src)
        if isinstance(env, Env):  # the referrals: the loop merges them itself
            env.lead(feeder)

    def _feed_streams(self) -> None:
        """Early notifications with their own queue, and partner-initiated discussions."""
        env = self.env
        if self.en_separate and len(self.en_entry):
            Feeder(env, self.en_entry, range(len(self.en_entry)), self.en_src)
        if self.partner is not None and len(self.partner):
            police = self.sd_police
            Feeder(env, self.partner.created,
                   range(police, police + len(self.partner)), self._partner_ready)

    def _partner_ready(self, job: int) -> None:
        now: float = self.env._now  # type: ignore[attr-defined]
        self.sd_waiting += 1
        self.sd_entry[job] = now
        self.sd_src.offer(job, now)

    def _arrive(self, job: int) -> None:
        """A referral (or notification) reaches the MASH staff: its first needed stage."""
        now: float = self.env._now  # type: ignore[attr-defined]
        stage = self._first[job] if job < self.n else 0
        if stage < 0:
            self.arrival_decided[job] = now
            self._decided(job)
            return
        if stage > 0:  # the first stage's entry is its hand-over, set up front
            self.stage_entry[stage][job] = now
        self.stage_srcs[stage].offer(job, now)

    # -- event hooks ----------------------------------------------------------------

    def _started(self, stage: int, job: int, src: Source) -> None:
        if job < self.n:
            saved = self._saved_hours[stage]
            if saved is not None and len(src.queue) > self._degrade_threshold[stage]:
                src.book.remaining[job] -= saved[job]
                self.degraded[job] = True
        elif job >= self.n + self.m:
            self.sd_waiting -= 1

    def _sd_started(self, job: int, src: Source) -> None:
        self.sd_waiting -= 1

    def _stage_done(self, stage: int, job: int) -> None:
        if job >= self.n:
            return
        if self._decision_stage[job] == stage:
            self._decided(job)
        nxt = self._next[stage][job]
        if nxt >= 0:
            now: float = self.env._now  # type: ignore[attr-defined]
            self.stage_entry[nxt][job] = now
            self.stage_srcs[nxt].offer(job, now)

    def _decided(self, job: int) -> None:
        if self._asm_needed[job]:
            now: float = self.env._now  # type: ignore[attr-defined]
            self.asm_entry[job] = now
            self.asm_src.offer(job, now)
        if self._marac_needed[job]:
            self.marac.list_case(job)
        if not self._sd_needed[job]:
            return
        delay = self._sd_delay[job]
        if delay > 0:
            self.env.timeout(delay).callbacks.append(partial(self._sd_ready_after, job))
        else:
            self._sd_ready(job)

    def _sd_ready_after(self, job: int, _delay: simpy.Event) -> None:
        self._sd_ready(job)

    def _sd_ready(self, job: int) -> None:
        now: float = self.env._now  # type: ignore[attr-defined]
        self.sd_waiting += 1
        if self.sd_by_staff:
            sd_job = self.n + self.m + job
            self._entry_list[sd_job] = now
            self.staff_src.offer(sd_job, now)
        else:
            self.sd_entry[job] = now
            self.sd_src.offer(job, now)

    # -- results ----------------------------------------------------------------------

    def stage_times(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(entry, first start, end) per stage and referral, (stages, n); NaN: not reached."""
        shape = (len(self.stage_books), self.n)
        n = self.n
        entry = _rows([e for e in self.stage_entry], n, shape)
        start = _rows([b.first_start for b in self.stage_books], n, shape)
        end = _rows([b.end for b in self.stage_books], n, shape)
        skipped = ~self.refs.stage_needed.T
        for rows in (entry, start, end):  # fresh arrays: NaN where a stage is not needed
            rows[skipped] = np.nan
        return entry, start, end

    def staff_times(self, stage_times: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """(first start of staff work, decision) per referral; NaN: not yet.
        `stage_times`: this hub's `stage_times()` when the caller has them already."""
        n = self.n
        if (self.first_stage == 0).all() and (self.decision_stage == 0).all():
            if stage_times is not None:  # the first stage's row is this (no second copy)
                return stage_times[1][0], stage_times[2][0]
            return (np.frombuffer(self.staff_book.first_start)[:n].copy(),
                    np.frombuffer(self.staff_book.end)[:n].copy())
        _, start, end = self.stage_times() if stage_times is None else stage_times
        idx = np.arange(n)
        instant = np.frombuffer(self.arrival_decided) if len(self.arrival_decided) else np.nan
        first, decide = self.first_stage, self.decision_stage
        return (np.where(first >= 0, start[np.maximum(first, 0), idx], instant),
                np.where(decide >= 0, end[np.maximum(decide, 0), idx], instant))

    def sd_held(self) -> np.ndarray:
        """When each referral's strategy discussion was held (NaN: not, or none needed)."""
        lo = self.n + self.m
        if self.sd_by_staff and len(self.staff_book.end) > lo:
            return np.frombuffer(self.staff_book.end)[lo:lo + self.n].copy()
        if self.sd_police:
            return np.frombuffer(self.sd_book.end)[:self.n].copy()
        return nan_view(self.n)  # no referral needed one: no slots were made

    def partner_held(self) -> np.ndarray:
        """When each partner-initiated discussion was held (NaN: not yet)."""
        return np.frombuffer(self.sd_book.end)[self.sd_police:].copy()

    def partner_start(self) -> np.ndarray:
        """When each partner-initiated discussion first started (NaN: not yet)."""
        return np.frombuffer(self.sd_book.first_start)[self.sd_police:].copy()

    def trigger(self, kind: str, stages: list[int] | None = None) -> Callable[[], float]:
        """The overtime trigger's measure, over `stages` (indices; all when None)."""
        srcs = self.stage_srcs if stages is None else [self.stage_srcs[i] for i in stages]
        if kind == "staff_queue":  # everything waiting for staff, all stages
            if len(srcs) == 1:
                only = srcs[0]
                return lambda: float(len(only.queue))
            return lambda: float(sum(len(s.queue) for s in srcs))
        if kind == "oldest_waiting_hours":
            if len(srcs) == 1:
                only = srcs[0]
                return lambda: only.oldest_wait_hours(self.env.now)
            return lambda: max(s.oldest_wait_hours(self.env.now) for s in srcs)
        return lambda: float(self.sd_waiting)




def _rows(arrays: list[array[float]], n: int, shape: tuple[int, int]) -> np.ndarray:
    """The first n slots of each float array, as the rows of one (len, n) array."""
    out = np.empty(shape)
    for i, a in enumerate(arrays):
        out[i] = np.frombuffer(a)[:n]
    return out
