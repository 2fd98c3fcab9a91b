"""`mashsim forecast`: the staffing plan year by year, for a force management statement."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mashsim.cli.common import (
    add_execution_options,
    add_scenario_options,
    interruptible,
    load_with_overrides,
    positive_int,
    prepare_run,
    write_json_and_csv,
)
from mashsim.errors import ScenarioError
from mashsim.safe_text import terminal

__all__ = ["format_forecast", "register"]

DEFAULT_YEARS = 4  # the force management statement's horizon


def register(sub: argparse._SubParsersAction) -> None:
    fc = sub.add_parser("forecast", help="staffing needed year by year as demand grows")
    add_scenario_options(fc)
    fc.add_argument("--years", type=positive_int, default=DEFAULT_YEARS,
                    help=f"years to plan, the first being the scenario as written "
                    f"(default {DEFAULT_YEARS}, at most 10)")
    fc.add_argument("--target", action="append", default=[], metavar="METRIC<=VALUE",
                    help="as for plan (repeatable); default: the scenario's [targets]")
    fc.add_argument("--vary-staff", action="append", default=[], metavar="HUB|HUB.ROLE|all",
                    help="as for plan (default all)")
    fc.add_argument("--replications", type=positive_int, default=20,
                    help="replications per staffing level tried (default 20)")
    fc.add_argument("--overtime-hours", default=None, metavar="H1,H2,...",
                    help="as for plan: weekly overtime caps per hub to try each year")
    add_execution_options(fc)
    fc.set_defaults(handler=_forecast)


def _forecast(args: argparse.Namespace) -> int:
    from mashsim.experiment.forecast import MAX_FORECAST_YEARS, forecast
    from mashsim.experiment.plan import parse_overtime_hours

    if args.years > MAX_FORECAST_YEARS:
        raise ScenarioError([f"--years {args.years}: at most {MAX_FORECAST_YEARS}"])
    scenario = load_with_overrides(args.scenario, args.overrides)
    hubs = [h.strip() for text in args.vary_staff for h in text.split(",") if h.strip()]
    caps = (None if args.overtime_hours is None
            else parse_overtime_hours(args.overtime_hours))
    args.workers = prepare_run(args, [scenario],
                               args.replications * 10 * args.years * len(caps or [0]))

    def run() -> int:
        frame = forecast(scenario, args.years, args.target, hubs=hubs or "all",
                         replications=args.replications, seed=args.seed,
                         workers=args.workers, scheduler=args.scheduler, out=args.out,
                         progress=True, **({} if caps is None else {"overtime_hours": caps}))
        doc = frame.attrs["forecast"]
        text = json.dumps(doc, indent=2, allow_nan=False)
        if args.out is not None:
            write_json_and_csv(args.out, "forecast", text, frame)
        print(text if args.format == "json" else format_forecast(frame))
        return 0

    return interruptible(run)


def format_forecast(frame: Any) -> str:
    """One row per hub (and role): posts now, then posts needed in each year (`>N` where
    none up to the search limit meets the targets); the demand of each year on top."""
    years = sorted(frame["year"].unique())
    roles = "role" in frame.columns
    head = ["hub", *(["role"] if roles else []), "now",
            *(f"year {y} ({frame[frame.year == y].start_date.iloc[0][:4]})" for y in years)]
    demand = ["referrals/day", *([""] if roles else []), "",
              *(f"{frame[frame.year == y].referrals_per_day.iloc[0]:.0f}" for y in years)]
    body = [demand]
    first = frame[frame.year == years[0]]
    for _, unit in first.iterrows():
        same = frame[(frame.hub == unit.hub)
                     & ((frame.role == unit.role) if roles else True)].set_index("year")
        cells = [terminal(unit.hub), *([terminal(unit.role or "staff")] if roles else []),
                 str(unit.headcount_now)]
        for y in years:
            row = same.loc[y]
            cells.append(str(int(row.headcount_needed)) if row.feasible
                         else f">{row.search_limit}")
        body.append(cells)
    pad = [""] if roles else []
    body.append(["all posts", *pad, str(int(first.headcount_now.sum())),
                 *(_total_posts(frame[frame.year == y]) for y in years)])
    if "cost_per_year_needed" in frame.columns:
        body.append(["cost £ a year", *pad, _pounds(first.cost_per_year_now.sum()),
                     *(_pounds(frame[frame.year == y].cost_per_year_needed.sum())
                       for y in years)])
    if "overtime_cost_per_year" in frame.columns:  # --overtime-hours
        body.append(["overtime £ a year", *pad, "",
                     *(_pounds(_hub_sum(frame[frame.year == y], "overtime_cost_per_year"))
                       for y in years)])
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in [head, *body]]
    a = frame.attrs
    title = (f"{terminal(a.get('scenario'))} — posts needed each year to meet "
             f"{' and '.join(a.get('targets', []))} with 95% confidence "
             f"({a.get('replications')} replications per level, seed {a.get('seed')}; each "
             "year is the scenario's window moved on, demand grown; JSON has every metric's "
             "CI; the mix of roles may shift between years where roles share skills: read "
             "the totals)")
    return "\n".join([title, *lines])


def _total_posts(year: Any) -> str:
    """Posts needed in a year, summed (`>N` parts count at their limit, marked `≥`)."""
    total = int(sum(r.headcount_needed if r.feasible else r.search_limit
                    for r in year.itertuples()))
    return str(total) if year.feasible.all() else f"≥{total}"


def _hub_sum(year: Any, column: str) -> float:
    """A per-hub figure summed over hubs (repeated on each of a hub's role rows)."""
    return float(year.groupby("hub")[column].first().sum())


def _pounds(x: Any) -> str:
    return "n/a" if x is None or x != x else f"{x:,.0f}"
