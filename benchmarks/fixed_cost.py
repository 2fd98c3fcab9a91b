"""Fixed cost per replication and cost per referral, phase by phase.

A replication's CPU time is roughly fixed + marginal × referrals: every hub costs a fixed
amount (its streams, draws' set-up, rosters and absences, its metrics) whatever its size,
and the summer scenario's 150 days spread that over fewer referrals than the default's
365 (issue 16's summer_2023 / default ratio). This runs one scenario at two run lengths,
in this process, best of --repeats each, and splits the CPU time by phase:

- draws     each hub's referrals and partner discussions (`hub_demand`)
- streams   creating named random streams (inside the other phases)
- queues    each hub's books and queues (`HubQueues`)
- staff     rosters, absences and pools (`build_role_pools`, discussion teams, overtime)
- loop      the event loop (`Env.run`)
- records   reading the model into records (`build_records`)
- metrics   everything after the simulation (per-hub and force-wide metrics)

then solves each phase's fixed ms and µs per referral from the two lengths.

    python benchmarks/fixed_cost.py                        # summer_2023, 7 and 150 days
    python benchmarks/fixed_cost.py --scenario thames_valley --days 30 365
    python benchmarks/fixed_cost.py --quick                # that it works
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mashsim import Scenario, default_scenario_path, load_scenario, simulate
from mashsim.model import replication, streams, wiring

PHASES = ("draws", "streams", "queues", "staff", "loop", "records", "metrics")
_spent: dict[str, float] = {}


def _timed(phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            _spent[phase] = _spent.get(phase, 0.0) + time.process_time() - t0
    return timed


def instrument() -> None:
    """Wrap each phase's entry point where its caller looks it up."""
    wiring.hub_demand = _timed("draws", wiring.hub_demand)
    wiring.HubQueues = _timed("queues", wiring.HubQueues)  # type: ignore[assignment,misc]
    for name in ("build_role_pools", "build_overflow_team", "build_discussion_teams",
                 "build_overtime"):
        setattr(wiring, name, _timed("staff", getattr(wiring, name)))
    replication.build_records = _timed("records", replication.build_records)
    replication._run_group = _timed("group", replication._run_group)
    streams.Streams.rng = _timed("streams", streams.Streams.rng)  # type: ignore[method-assign]


def one_replication(sc: Scenario, seed: int) -> tuple[dict[str, float], float]:
    """(CPU seconds by phase, referrals) of one replication."""
    _spent.clear()
    t0 = time.process_time()
    res = simulate(sc, replications=1, seed=seed)
    total = time.process_time() - t0
    group = _spent.pop("group", 0.0)
    built = sum(_spent.get(p, 0.0) for p in ("draws", "queues", "staff"))
    out = {p: _spent.get(p, 0.0) for p in PHASES}
    out["loop"] = group - built - out["records"]
    out["metrics"] = total - group
    out["draws"] -= out["streams"]  # streams are counted on their own
    out["total"] = total
    return out, res.runs[0].metrics["overall"]["referrals_arrived"]


def scenario_for(name: str, days: float) -> Scenario:
    base = load_scenario(Path(default_scenario_path()).with_name(f"{name}.toml"))
    changes: dict[str, Any] = {"run.duration_days": days, "run.warmup_days": 0.0}
    if base.reporting.audit_date is not None:
        changes["reporting.audit_date"] = None  # may fall outside a short run
    return base.with_overrides(changes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="summer_2023", help="a shipped scenario's name")
    ap.add_argument("--days", type=float, nargs=2, default=[7.0, 150.0],
                    help="the two run lengths (default 7 150)")
    ap.add_argument("--repeats", type=int, default=7, help="best of this many, each length")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="2 and 5 days, 2 repeats")
    args = ap.parse_args()
    if args.quick:
        args.days, args.repeats = [2.0, 5.0], 2
    instrument()
    best: dict[float, tuple[dict[str, float], float]] = {}
    for days in args.days:
        sc = scenario_for(args.scenario, days)
        one_replication(sc, args.seed)  # first calls and per-process memos: untimed
        for _ in range(args.repeats):
            phases, n = one_replication(sc, args.seed)
            if days not in best or phases["total"] < best[days][0]["total"]:
                best[days] = (phases, n)
    (d0, (a, n0)), (d1, (b, n1)) = best.items()
    print(f"{args.scenario}: one replication, CPU ms, best of {args.repeats}; fixed and "
          f"per-referral cost solved from the two lengths")
    print(f"  {'phase':<9}{f'{d0:g} days':>10}{f'{d1:g} days':>10}{'fixed ms':>10}"
          f"{'µs/referral':>13}")
    for p in (*PHASES, "total"):
        per_ref = (b[p] - a[p]) / (n1 - n0) if n1 != n0 else float("nan")
        fixed = b[p] - per_ref * n1
        print(f"  {p:<9}{a[p] * 1e3:>10.1f}{b[p] * 1e3:>10.1f}{fixed * 1e3:>10.1f}"
              f"{per_ref * 1e6:>13.2f}")
    print(f"  referrals: {n0:,.0f} and {n1:,.0f}")


if __name__ == "__main__":
    main()
