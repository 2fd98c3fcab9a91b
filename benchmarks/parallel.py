"""Parallel speed-up of a staffing sweep: serial vs local worker processes.

The workload of issue 4: one hub-year (Oxfordshire alone, 365 days, 7-day warm-up) at 5
staffing levels × 20 replications = 100 replications, run as a `sweep` with no cache.
Each worker count runs the same sweep; the results must be identical to the serial run
(checked), and the table reports wall time, speed-up and efficiency (speed-up / workers).

    python benchmarks/parallel.py                 # serial and 2 workers
    python benchmarks/parallel.py --workers 2 4 8 # more, on a larger machine
    python benchmarks/parallel.py --replications 5 --days 120   # a quick look
    python benchmarks/parallel.py --repeat 3      # best of 3, on a machine others share

With --repeat, the worker counts are run in turn (1, 2, 1, 2, ...) and the best wall time of
each is kept, so that a burst of someone else's work disturbs one try, not the figure.
"CPU s" is the processor time of this process and its workers together: its ratio to the
serial run's is the cost of parallelism itself (pickling, pool start-up), which other work
on a shared machine does not disturb the way it disturbs wall time.
"""


from __future__ import annotations

import argparse
import os
import platform
import resource
import time

from mashsim import load_scenario
from mashsim.experiment.plan import hub_scenario
from mashsim.experiment.simulate import default_scenario_path
from mashsim.experiment.sweep import sweep

HUB = "oxfordshire"


def _cpu_s() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # workers, once the pool has joined
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[2],
                    help="worker counts to compare with serial (default 2)")
    ap.add_argument("--replications", type=int, default=20)
    ap.add_argument("--days", type=float, default=365.0, help="run length (default 365)")
    ap.add_argument("--levels", type=int, default=5, help="staffing levels (default 5)")
    ap.add_argument("--repeat", type=int, default=1, help="tries per worker count; best kept")
    args = ap.parse_args()

    base = hub_scenario(load_scenario(default_scenario_path()), HUB).with_overrides(
        {"run.duration_days": args.days, "run.warmup_days": 7.0})
    now = base.hubs[HUB].staff.headcount
    vary = {f"hubs.{HUB}.staff.headcount": [now + i for i in range(args.levels)]}
    reps = args.levels * args.replications
    print(f"sweep: {HUB} alone, {args.days:g} days, {args.levels} staffing levels × "
          f"{args.replications} replications = {reps} replications")
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{len(os.sched_getaffinity(0))} usable cores, Python {platform.python_version()}")

    counts = [1, *(w for w in args.workers if w != 1)]
    best = dict.fromkeys(counts, float("inf"))
    cpu = dict.fromkeys(counts, float("inf"))
    reference = None
    same = dict.fromkeys(counts, True)
    for _ in range(max(1, args.repeat)):
        for workers in counts:
            t0, c0 = time.perf_counter(), _cpu_s()
            frame = sweep(base, vary, replications=args.replications, seed=1, workers=workers)
            best[workers] = min(best[workers], time.perf_counter() - t0)
            cpu[workers] = min(cpu[workers], _cpu_s() - c0)
            if reference is None:
                reference = frame
            same[workers] &= frame.equals(reference)
    serial = best[1]
    rows = [(w, best[w], cpu[w], serial / best[w], serial / best[w] / w, same[w])
            for w in counts]

    print(f"{'workers':>7}  {'wall s':>7}  {'s/rep':>6}  {'CPU s':>6}  {'speed-up':>8}  "
          f"{'efficiency':>10}  {'= serial':>8}")
    for workers, wall, cpu_s, speedup, eff, ok in rows:
        print(f"{workers:>7}  {wall:>7.2f}  {wall / reps:>6.3f}  {cpu_s:>6.1f}  {speedup:>7.2f}×  "
              f"{eff:>9.0%}  {'yes' if ok else 'NO':>8}")


if __name__ == "__main__":
    main()
