"""Will it fit? Memory and time of a set of replications, estimated before starting.

A run that cannot finish (a billion referrals a day, a hundred million in the initial
backlog, ten million staff, a billion replications) would otherwise fill the memory and
swap the machine to a standstill, or run for months, before anyone is told. The cost
of a replication is close to linear in what it simulates; the coefficients below were
measured on mashsim 0.1.0 (one core, CPython 3.11, tracemalloc peak):

- a referral (arriving or in the initial backlog): ≈ 35 µs and ≈ 1 kB while a
  replication runs (28,000 referrals: 0.96 s, 27 MB; a 50,000 backlog: 0.74 s, 35 MB);
- a staff member (rostered or strategy-discussion attendee) per simulated day: ≈ 2.5 µs
  and ≈ 20 bytes (headcount 100,000 for 63 days: 15.8 s, 116 MB);
- a hub per simulated day: ≈ 150 µs and ≈ 300 bytes (100 hubs for 63 days: 1.5 s);
- a finished replication kept in memory until the end: ≈ 6 kB per scope (hub or
  overall) plus 50 bytes per hub-day of daily backlog;
- a worker process: ≈ 60 MB.

Each worker holds one running replication; the main process holds every finished one.
Estimates are deliberately rough (within a factor of about two): they only have to tell
"fits easily" from "cannot fit".
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from mashsim.errors import ScenarioError
from mashsim.scenario.schema import Scenario

__all__ = ["Estimate", "available_memory_bytes", "check_fits", "estimate"]

SECONDS_PER_REFERRAL = 35e-6
BYTES_PER_REFERRAL = 1_000
SECONDS_PER_STAFF_DAY = 2.5e-6
BYTES_PER_STAFF_DAY = 20
SECONDS_PER_HUB_DAY = 150e-6
BYTES_PER_HUB_DAY = 300
BYTES_PER_RESULT_SCOPE = 6_000
BYTES_PER_RESULT_HUB_DAY = 50
BYTES_PER_WORKER = 60_000_000
#: Refuse runs estimated to take longer than this without --force (wall clock).
MAX_HOURS = 24.0
#: Leave this share of the available memory free.
MEMORY_HEADROOM = 0.8


@dataclass(frozen=True)
class Estimate:
    """Expected peak memory and wall-clock time of a set of replications."""

    memory_bytes: float
    seconds: float
    workers: int
    #: the scenario key or flag driving the memory, and the one driving the time
    memory_culprit: str
    time_culprit: str

    def text(self) -> str:
        return (f"needs about {_bytes(self.memory_bytes)} of memory and "
                f"{_duration(self.seconds)} on {self.workers} worker(s)")


def _bytes(n: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1000
    raise AssertionError  # pragma: no cover


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def _costs(sc: Scenario) -> dict[str, tuple[float, float]]:
    """(seconds, bytes) of one replication, by the scenario key that drives it."""
    days = sc.run.duration_days
    peak = max([1.0, *(m.factor for m in sc.arrivals.date_multipliers)])
    growth = (1.0 + sc.arrivals.growth_per_year) ** max(0.0, days / 365.0)
    arriving = sc.arrivals.referrals_per_day * days * peak * max(1.0, growth)
    backlog = sum(h.initial_backlog.count for h in sc.hubs.values())
    staff = (sum(h.staff.headcount + h.sd_attendees.headcount for h in sc.hubs.values())
             + sc.pooling.overflow_team.headcount)
    hubs = len(sc.hubs)
    costs = {
        "arrivals.referrals_per_day": (arriving * SECONDS_PER_REFERRAL,
                                       arriving * BYTES_PER_REFERRAL),
        "initial_backlog.count": (backlog * SECONDS_PER_REFERRAL, backlog * BYTES_PER_REFERRAL),
        "staff.headcount": (staff * days * SECONDS_PER_STAFF_DAY,
                            staff * days * BYTES_PER_STAFF_DAY),
        "hubs": (hubs * days * SECONDS_PER_HUB_DAY, hubs * days * BYTES_PER_HUB_DAY),
    }
    return costs


def _result_bytes(sc: Scenario) -> float:
    hubs = len(sc.hubs)
    return (hubs + 1) * BYTES_PER_RESULT_SCOPE + hubs * sc.run.duration_days * \
        BYTES_PER_RESULT_HUB_DAY


def estimate(scenarios: Sequence[Scenario], replications: int, workers: int) -> Estimate:
    """Peak memory and time of `replications` of every scenario on `workers` processes."""
    tasks = max(1, replications * len(scenarios))
    workers = max(1, min(workers, tasks))
    per_rep = [_costs(sc) for sc in scenarios]
    seconds = replications * sum(sum(c[0] for c in costs.values()) for costs in per_rep)
    running = max(sum(c[1] for c in costs.values()) for costs in per_rep)
    held = replications * sum(_result_bytes(sc) for sc in scenarios)
    proc = BYTES_PER_WORKER * workers if workers > 1 else 0
    memory = workers * running + held + proc
    worst = max(per_rep, key=lambda costs: sum(c[1] for c in costs.values()))
    shares = {k: workers * v[1] for k, v in worst.items()}
    shares["--replications"] = held
    shares["--workers"] = proc
    memory_culprit = max(shares, key=shares.__getitem__)
    times = {k: v[0] for k, v in worst.items()}
    time_culprit = max(times, key=times.__getitem__)
    if seconds / tasks < MAX_HOURS * 3600 / 100:  # each task is modest: too many of them
        time_culprit = "--replications"
    return Estimate(memory, seconds / workers, workers, memory_culprit, time_culprit)


def available_memory_bytes() -> float:
    """MemAvailable from /proc/meminfo (Linux), else free physical pages; inf if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return math.inf


def check_fits(source: str, scenarios: Sequence[Scenario], replications: int,
               workers: int, force: bool = False) -> int:
    """Refuse (ScenarioError) a run that cannot fit, unless `force`; the workers to use.

    Workers are capped at the number of replications to run (a worker without a task
    only costs memory and start-up time).
    """
    tasks = max(1, replications * len(scenarios))
    workers = max(1, min(workers, tasks))
    if force:
        return workers
    est = estimate(scenarios, replications, workers)
    free = available_memory_bytes() * MEMORY_HEADROOM
    hint = "reduce it, or pass --force to run anyway"
    if est.memory_bytes > free:
        raise ScenarioError([f"{source}: {est.memory_culprit}: this run {est.text()}, but only "
                             f"{_bytes(free)} of memory is available; {hint}"])
    if est.seconds > MAX_HOURS * 3600:
        raise ScenarioError([f"{source}: {est.time_culprit}: this run {est.text()}, more than "
                             f"the {MAX_HOURS:g}-hour limit; {hint}"])
    return workers
