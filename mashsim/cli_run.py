"""`mashsim run` and `mashsim validate`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .cli import (
    add_replication_options,
    add_scenario_options,
    check_out_dir,
    load_with_overrides,
)
from .experiment import default_workers
from .scenario import load_scenario
from .simulate import simulate

__all__ = ["format_table", "progress_callback", "register"]

# (metric, column heading, scale, decimals)
TABLE_COLUMNS = (
    ("referrals_arrived", "arrived", 1.0, 0),
    ("backlog_mean", "backlog", 1.0, 1),
    ("staff_wait_hours_mean", "wait h", 1.0, 1),
    ("decision_target_breach", "target breach %", 100.0, 1),
    ("sd_breach_72h", "SD >72h %", 100.0, 1),
    ("sd_pending_over_72h_at_end", "SD pend >72h", 1.0, 1),
    ("oldest_waiting_days_at_end", "oldest d", 1.0, 1),
    ("staff_utilisation", "util %", 100.0, 0),
)
AUDIT_COLUMNS = (  # shown when the scenario sets reporting.audit_date
    ("audit_sd_pending_over_72h", "audit SD >72h", 1.0, 1),
    ("audit_sd_pending_over_14d", "audit SD >14d", 1.0, 1),
    ("audit_oldest_waiting_days", "audit oldest d", 1.0, 1),
)


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="simulate a scenario and summarise with 95 %% CIs")
    add_scenario_options(run, scenario_optional=True)
    add_replication_options(run)
    run.set_defaults(handler=_run)
    val = sub.add_parser("validate", help="check a scenario file and report every problem")
    val.add_argument("scenario", help="scenario TOML")
    val.set_defaults(handler=_validate)


def progress_callback(total: int, desc: str):
    """A tqdm bar on stderr that appears only for runs longer than a second."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="rep", file=sys.stderr, delay=1.0, leave=False)
    return bar, lambda: bar.update(1)


def _run(args: argparse.Namespace) -> int:
    scenario = load_with_overrides(args.scenario, args.overrides)
    check_out_dir(args.out)
    workers = args.workers or default_workers()
    bar, tick = progress_callback(args.replications, "replications")
    with bar:
        res = simulate(scenario, args.replications, args.seed, workers, tick)
    if args.out is not None:
        res.write(args.out)
    if args.format == "json":
        print(res.to_json())
    else:
        print(format_table(res.summary()))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .stress import staff_hours_per_week

    sc = load_scenario(args.scenario)
    print(f"{args.scenario}: valid scenario {sc.name!r} with {len(sc.hubs)} hub(s)")
    # A slip in a shift (17:00-09:00 for 09:00-17:00) shows here as a doubled figure.
    print("rostered staff-hours per week (staff rosters, before vacancies and absences):")
    width = max(len(h) for h in sc.hub_names)
    for hub in sc.hub_names:
        print(f"  {hub:<{width}}  {staff_hours_per_week(sc, hub):8.1f}")
    return 0


def _cell(ci: dict[str, Any], scale: float, decimals: int) -> str:
    if ci["mean"] is None:
        return "n/a"
    text = f"{ci['mean'] * scale:.{decimals}f}"
    if ci["ci_low"] is not None:
        text += f" ±{(ci['ci_high'] - ci['ci_low']) * scale / 2:.{decimals}f}"
    return text


def format_table(summary: dict[str, Any]) -> str:
    """Per-hub table of the headline metrics: mean ± 95 % CI half-width."""
    rows = [(hub, h["metrics"]) for hub, h in summary["hubs"].items()]
    rows.append(("ALL HUBS", summary["metrics"]))
    audit = summary["metrics"].get("audit_sd_pending_over_72h", {}).get("mean") is not None
    columns = TABLE_COLUMNS + (AUDIT_COLUMNS if audit else ())
    head = ["hub", *(c[1] for c in columns)]
    body = [[name, *(_cell(m[c[0]], c[2], c[3]) for c in columns)] for name, m in rows]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    line = "  ".join
    out = [
        f"{summary['scenario']} — {summary['replications']} replication(s), seed "
        f"{summary['seed']}; mean ± 95% CI half-width",
        line(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths,
                                                                                strict=True))),
    ]
    out.append(line("-" * w for w in widths))
    for r in body:
        out.append(line(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    return "\n".join(out)
