"""Parallel speed-up of a staffing sweep: serial vs local worker processes.

The workload of issue 4: one hub-year (Oxfordshire alone, 365 days, 7-day warm-up) at 5
staffing levels × 20 replications = 100 replications, run as a `sweep` with no cache.
Each worker count runs the same sweep; the results must be identical to the serial run
(checked), and the table reports wall time, speed-up and efficiency (speed-up / workers).

    python benchmarks/parallel.py                 # serial and 2 workers
    python benchmarks/parallel.py --workers 2 4 8 # more, on a larger machine
    python benchmarks/parallel.py --replications 5 --days 120   # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from mashsim import load_scenario
from mashsim.plan import hub_scenario
from mashsim.simulate import default_scenario_path
from mashsim.sweep import sweep

HUB = "oxfordshire"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[2],
                    help="worker counts to compare with serial (default 2)")
    ap.add_argument("--replications", type=int, default=20)
    ap.add_argument("--days", type=float, default=365.0, help="run length (default 365)")
    ap.add_argument("--levels", type=int, default=5, help="staffing levels (default 5)")
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

    rows = []
    reference = None
    for workers in [1, *args.workers]:
        t0 = time.perf_counter()
        frame = sweep(base, vary, replications=args.replications, seed=1, workers=workers)
        wall = time.perf_counter() - t0
        if reference is None:
            reference, serial = frame, wall
        same = frame.equals(reference)
        rows.append((workers, wall, serial / wall, serial / wall / workers, same))

    print(f"{'workers':>7}  {'wall s':>7}  {'s/rep':>6}  {'speed-up':>8}  {'efficiency':>10}  "
          f"{'= serial':>8}")
    for workers, wall, speedup, eff, same in rows:
        print(f"{workers:>7}  {wall:>7.2f}  {wall / reps:>6.3f}  {speedup:>7.2f}×  "
              f"{eff:>9.0%}  {'yes' if same else 'NO':>8}")


if __name__ == "__main__":
    main()
