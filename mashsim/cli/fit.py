"""`mashsim fit`, `mashsim simulate-log` and `mashsim backtest`: calibration from data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mashsim._io import atomic_write_text
from mashsim.cli.common import (
    RESUME_HELP,
    add_execution_options,
    check_out_dir,
    interruptible,
    load_with_overrides,
    positive_int,
    seed_number,
)
from mashsim.errors import ScenarioError
from mashsim.safe_text import terminal
from mashsim.scenario.schema import Scenario, load_scenario

__all__ = ["register"]


def _log_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timezone", default=None,
                   help="zone of naive timestamps; offsets are converted to it "
                        "(default Europe/London)")
    p.add_argument("--skip-bad-rows", action="store_true",
                   help="use the clean rows when some rows have problems (they are still "
                        "reported on stderr)")


def register(sub: argparse._SubParsersAction) -> None:
    fit = sub.add_parser("fit", help="fit a scenario from a referral event log (CSV)")
    fit.add_argument("log", type=Path, help="event log CSV")
    fit.add_argument("--out", type=Path, required=True, help="fitted scenario TOML to write")
    fit.add_argument("--base", type=Path, default=None,
                     help="scenario giving what the log cannot tell (default: the bundled "
                          "thames_valley.toml)")
    fit.add_argument("--report", type=Path, metavar="DIR",
                     help="write a Markdown + PNG fit report here")
    fit.add_argument("--known-hubs-only", action="store_true",
                     help="treat hubs not in --base as bad rows instead of adding them")
    fit.add_argument("--format", choices=("table", "json"), default="table",
                     help="summary on stdout (default table)")
    _log_options(fit)
    fit.set_defaults(handler=_fit)

    sim = sub.add_parser("simulate-log",
                         help="write one simulated replication as an event log CSV")
    sim.add_argument("scenario", type=Path, help="scenario TOML")
    sim.add_argument("--out", type=Path, required=True, help="event log CSV to write")
    sim.add_argument("--seed", type=seed_number, default=1, help="random seed (default 1)")
    sim.add_argument("--set", dest="overrides", action="append", default=[],
                     metavar="PATH=VALUE", help="override a scenario value (repeatable)")
    sim.set_defaults(handler=_simulate_log)

    bt = sub.add_parser("backtest", help="compare a scenario's simulation with an event log")
    bt.add_argument("log", type=Path, help="event log CSV")
    bt.add_argument("scenario", type=Path, help="scenario TOML (usually from mashsim fit)")
    bt.add_argument("--replications", type=positive_int, default=10,
                    help="replications (default 10)")
    bt.add_argument("--seed", type=seed_number, default=1, help="base random seed (default 1)")
    bt.add_argument("--format", choices=("table", "json"), default="table",
                    help="output on stdout: the comparison table, or the full result as "
                         "JSON (default table)")
    bt.add_argument("--out", type=Path, metavar="DIR",
                    help="also write backtest files here" + RESUME_HELP)
    add_execution_options(bt)
    _log_options(bt)
    bt.set_defaults(handler=_backtest)


def _need_matplotlib(flag: str) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ScenarioError([f"{flag} needs matplotlib (a mashsim dependency): "
                             "pip install matplotlib"]) from None


def _warn(lines: list[str]) -> None:
    for line in lines:
        print(f"mashsim: warning: {terminal(line)}", file=sys.stderr)


def _fit(args: argparse.Namespace) -> int:
    from mashsim.calibrate.fit import fit_event_log

    if args.out.exists() and args.out.is_dir():
        raise ScenarioError([f"--out {args.out}: is a folder; give a .toml file name"])
    check_out_dir(args.report)
    if args.report is not None:
        _need_matplotlib("--report")
    base = load_scenario(args.base) if args.base is not None else None
    res = fit_event_log(args.log, base, timezone=args.timezone,
                        skip_bad_rows=args.skip_bad_rows, known_hubs_only=args.known_hubs_only)
    _warn(res.warnings)
    res.scenario.to_toml(args.out)
    if args.report is not None:
        from mashsim.report.fit_report import write_fit_report

        write_fit_report(res, args.report)
    if args.format == "json":
        print(json.dumps(res.summary, default=str, indent=1))
    else:
        print(_fit_text(res.summary, args.out))
    return 0


def _fit_text(s: dict, out: Path) -> str:
    a = s["arrivals"]
    d = a["diagnostics"]
    lines = [f"fitted {s['log']['referrals_used']} referrals ({s['log']['first_created']} to "
             f"{s['log']['last_created']}) → {out}",
             f"  referrals_per_day {a['referrals_per_day']:.1f}; trend "
             f"{'FOUND' if d.get('trend') else 'none'}; seasonality "
             f"{'FOUND' if d.get('seasonality') else 'none'}; separable profile loss: "
             f"deviance {d['separable_deviance']:.0f} on {d['separable_df']} df "
             f"(p={d['separable_p']:.2g})"]
    lines += _seasonal_text(d)
    for k, v in s["distributions"].items():
        c = {x: y for x, y in v["chosen"].items() if x != "values"}
        lines.append(f"  {k}: {c} (n={v['n']}, KS p={v['ks_pvalue']})"
                     + (" [empirical fallback]" if v["fallback"] else ""))
    for a_ in s["assumed_from_base"]:
        lines.append(f"  kept from base (no data): {a_}")
    return "\n".join(lines)


def _seasonal_text(d: dict) -> list[str]:
    """Month weights, growth and over-dispersion with their intervals (≥ 12 months)."""
    se = d.get("seasonal")
    if se is None:
        return [f"  not estimated: {note}" for note in d.get("not_estimated", [])]
    pct = round(100 * se["confidence"])
    months = ", ".join(f"{w:.2f}" for w in se["month_of_year_weights"])
    glo, ghi = se["growth_ci"]
    clo, chi = se["overdispersion_ci"]
    return [f"  month_of_year_weights (Jan..Dec): {months} (months p={se['months_p']:.2g})",
            f"  growth_per_year {se['growth_per_year']:+.1%} ({pct}% CI {glo:+.1%} to "
            f"{ghi:+.1%}); overdispersion {se['overdispersion']:.3f} ({pct}% CI {clo:.3f} "
            f"to {chi:.3f}; daily variance/mean {se['variance_to_mean_ratio']:.2f})"]


def _simulate_log(args: argparse.Namespace) -> int:
    from mashsim.calibrate.eventlog import simulated_log_frame, write_event_log
    from mashsim.model.replication import run_replication

    sc = load_with_overrides(args.scenario, args.overrides)
    if args.out.exists() and args.out.is_dir():
        raise ScenarioError([f"--out {args.out}: is a folder; give a .csv file name"])
    records = run_replication(sc, args.seed, 0)
    frame = simulated_log_frame(sc, records, sc.warmup_hours, sc.horizon_hours)
    n = write_event_log(args.out, [frame])
    print(f"wrote {n} referrals ({sc.run.warmup_days:g} to {sc.run.duration_days:g} days "
          f"after {sc.run.start_date}, seed {args.seed}) to {args.out}", file=sys.stderr)
    return 0


def _backtest(args: argparse.Namespace) -> int:
    sc = load_scenario(args.scenario)
    check_out_dir(args.out)
    if args.out is not None:
        _need_matplotlib("--out")
    return interruptible(lambda: _run_backtest(args, sc))


def _run_backtest(args: argparse.Namespace, sc: Scenario) -> int:
    from mashsim.calibrate.backtest import backtest, format_backtest_table

    res = backtest(args.log, sc, args.replications, args.seed, timezone=args.timezone,
                   skip_bad_rows=args.skip_bad_rows, workers=args.workers,
                   scheduler=args.scheduler, out=args.out, progress=True)
    _warn(res["warnings"])
    text = json.dumps(res, indent=1)
    if args.out is not None:
        atomic_write_text(args.out / "backtest.json", text)
        atomic_write_text(args.out / "backtest.txt", format_backtest_table(res) + "\n")
        from mashsim.report.fit_report import plot_backtest

        plot_backtest(res, args.out)
    print(text if args.format == "json" else format_backtest_table(res))
    return 0
