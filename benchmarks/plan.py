"""Issue 14: replications and wall time of `plan`'s sequential search against the same
search with a fixed 20 replications per staffing tried, in one process, one after the
other, on the same machine.

    PYTHONPATH=. python benchmarks/plan.py [--quick] [--workers N]

Full: the default scenario's all-hub plan (every role of every hub, the scenario's
[targets], least cost). --quick: Reading alone over 8 weeks (what the test suite runs).
Each line also says where the replications went, by search phase (start: today's posts
and the first guess; up; down; one_below; confirm: fresh seeds).
"""

from __future__ import annotations

import argparse
import time

from mashsim.experiment.plan import plan
from mashsim.experiment.simulate import default_scenario_path
from mashsim.scenario.schema import load_scenario

FIXED = 20


def _scenario(quick: bool):
    sc = load_scenario(default_scenario_path())
    if quick:
        sc = sc.hub_alone("reading").with_overrides(
            {"run.duration_days": 56.0, "run.warmup_days": 7.0})
    return sc


def _timed(sc, sequential: bool, workers: int) -> tuple[int, float, dict, dict[str, int]]:
    t0 = time.perf_counter()
    frame = plan(sc, (), "all", replications=FIXED, seed=1, workers=workers,
                 sequential=sequential)
    doc = frame.attrs["plan"]
    phases: dict[str, int] = {}
    for by_phase in frame.attrs["replications_by_phase"].values():
        for phase, n in by_phase.items():
            phases[phase] = phases.get(phase, 0) + n
    return doc["replications_used"], time.perf_counter() - t0, doc, phases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    sc = _scenario(args.quick)
    print(f"plan of {sc.name}{' (quick: Reading, 8 weeks)' if args.quick else ''}, "
          f"targets {', '.join(f'{k}{v}' for k, v in sc.targets.items())}, "
          f"{args.workers} workers")
    rows = []
    for label, sequential in ((f"fixed {FIXED}", False), ("sequential", True)):
        reps, wall, doc, phases = _timed(sc, sequential, args.workers)
        rows.append((label, reps, wall, doc["cost_per_year_needed"]))
        where = ", ".join(f"{p} {n:,}" for p, n in phases.items())
        print(f"  {label:<12} {reps:>7,} replications  {wall:8.1f} s wall  "
              f"cost needed £{doc['cost_per_year_needed'] or 0:,.0f}  ({where})")
    (_, r0, w0, _), (_, r1, w1, _) = rows
    print(f"replications, fixed / sequential: {r0 / max(r1, 1):.2f}x; "
          f"wall: {w0 / max(w1, 1e-9):.2f}x")


if __name__ == "__main__":
    main()
