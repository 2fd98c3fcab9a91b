"""`mashsim sweep` and `mashsim plan`."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
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
from mashsim.experiment.precision import parse_fraction
from mashsim.experiment.sweep import parse_vary, sweep, sweep_json
from mashsim.metrics.registry import metric_info
from mashsim.safe_text import terminal
from mashsim.stats import fixed, format_ci

__all__ = ["format_plan", "format_sweep", "register"]

SWEEP_BUDGET_WITH_PRECISION = 100
# (metric, heading) shown by the sweep table; scale (fractions in %) and decimals come
# from the metric registry
SWEEP_TABLE = (
    ("sd_breach_72h", "SD >72h %"),
    ("decision_target_breach", "target breach %"),
    ("backlog_mean", "backlog"),
    ("staff_wait_hours_mean", "wait h"),
)
# (metric, heading) shown beside a plan's targets, in %: now → at the answer
PLAN_CONTEXT = (
    ("decision_target_breach", "target breach %"),
    ("decision_target_breach_high", "high %"),
    ("sd_breach_72h", "SD >72h %"),
    ("staff_utilisation", "utilisation %"),
)
WARNED = " !"
PLAN_ROUNDS = 8  # staffings a plan tries per hub, for the memory and time check


def register(sub: argparse._SubParsersAction) -> None:
    sw = sub.add_parser("sweep", help="run a grid of overrides with common random numbers")
    add_scenario_options(sw)
    sw.add_argument("--vary", action="append", default=[], metavar="PATH=V1,V2,...",
                    required=True, help="values for one scenario path; several --vary give "
                    "their product; the first combination (point 0) is the baseline")
    sw.add_argument("--replications", type=positive_int, default=None,
                    help="replications per point (default 10; with --precision, the budget, "
                    f"default {SWEEP_BUDGET_WITH_PRECISION})")
    sw.add_argument("--precision", default=None, metavar="X",
                    help="choose replications until every watched metric's 95%% CI "
                    "half-width is at most X × its mean at every point (0.05 or 5%%)")
    sw.add_argument("--precision-metric", action="append", default=None, metavar="METRIC",
                    help="force-wide metric watched by --precision (repeatable; default "
                    "sd_breach_72h and decision_target_breach)")
    sw.add_argument("--hub", action="append", default=[], metavar="NAME",
                    help="also show this hub in the table (repeatable); the hubs the sweep "
                    "changes are always shown, with the force")
    add_execution_options(sw)
    sw.set_defaults(handler=_sweep)

    pl = sub.add_parser("plan", help="least headcount per hub meeting targets with 95%% "
                        "confidence")
    add_scenario_options(pl)
    pl.add_argument("--target", action="append", default=[],
                    metavar="METRIC<=VALUE", help="e.g. 'sd_breach_72h<=0.05' (repeatable; "
                    "all must hold; <=, <, >=, >); default: the scenario's [targets]")
    pl.add_argument("--objective", choices=("cost", "posts"), default=None,
                    help="least cost a year (default when any role has an hourly cost) or "
                    "fewest posts")
    pl.add_argument("--patterns", type=Path, default=None, metavar="FILE",
                    help="TOML file of [patterns.<name>] shifts: candidate rosters for every "
                    "searched role")
    pl.add_argument("--vary-staff", action="append", default=[], required=True,
                    metavar="HUB|HUB.ROLE|all", help="hub whose headcount to search "
                    "(repeatable), or all; in a hub described by roles, HUB.ROLE searches "
                    "one role's posts and HUB each of its roles in turn")
    pl.add_argument("--replications", type=positive_int, default=20,
                    help="most replications per staffing tried (default 20; sequential: "
                    "fewer where the 95%% CI decides sooner)")
    pl.add_argument("--max-headcount", type=positive_int, default=None,
                    help="search limit per hub (default max(3 × now, now + 20))")
    pl.add_argument("--overtime-hours", default=None, metavar="H1,H2,...",
                    help="weekly overtime caps per hub to try (e.g. 0,8,16): overtime "
                    "enabled at each, the cheapest answer kept counting overtime pounds")
    add_execution_options(pl)
    pl.set_defaults(handler=_plan)


def _sweep(args: argparse.Namespace) -> int:
    scenario = load_with_overrides(args.scenario, args.overrides)
    vary: dict[str, list[Any]] = {}
    for text in args.vary:
        path, values = parse_vary(text)
        if path in vary:
            raise ScenarioError([f"--vary {path}: given twice"])
        vary[path] = values
    if args.precision is not None:
        args.precision = parse_fraction(args.precision, "--precision", exclusive=True)
    unknown = [h for h in args.hub if h not in scenario.hubs]
    if unknown:
        known = ", ".join(scenario.hub_names)
        raise ScenarioError([f"--hub {h}: no such hub (known: {known})" for h in unknown])
    if args.replications is None:
        args.replications = SWEEP_BUDGET_WITH_PRECISION if args.precision else 10
    if args.precision is not None and args.replications < 2:
        raise ScenarioError(["--replications: the budget must be at least 2 with --precision"])
    from mashsim.experiment.sweep import point_scenarios

    args.workers = prepare_run(args, point_scenarios(scenario, vary)[1], args.replications)

    def run() -> int:
        frame = sweep(scenario, vary, replications=args.replications, seed=args.seed,
                      workers=args.workers, scheduler=args.scheduler,
                      precision=args.precision,
                      precision_metrics=args.precision_metric or
                      ("sd_breach_72h", "decision_target_breach"),
                      out=args.out, progress=True)
        prec = frame.attrs.get("precision")
        if prec is not None:
            state = "met" if prec["met"] else "NOT met (budget reached)"
            print(f"mashsim: precision {prec['target']:g} {state} with "
                  f"{frame.attrs['replications']} replications (worst relative half-width "
                  f"{prec['achieved']:.3g})", file=sys.stderr)
        print(sweep_json(frame) if args.format == "json"
              else format_sweep(frame, hubs=args.hub))
        return 0

    return interruptible(run)


def _plan(args: argparse.Namespace) -> int:
    from mashsim.experiment.plan import parse_overtime_hours, plan
    from mashsim.experiment.plan_targets import load_patterns, plan_targets

    scenario = load_with_overrides(args.scenario, args.overrides)
    source = str(args.scenario) if args.scenario is not None else None
    targets = plan_targets(scenario, args.target, source)
    patterns = None if args.patterns is None else load_patterns(args.patterns)
    hubs = [h.strip() for text in args.vary_staff for h in text.split(",") if h.strip()]
    caps = (None if args.overtime_hours is None
            else parse_overtime_hours(args.overtime_hours))
    # a coordinate-descent search tries a few staffings per role, each up to
    # --replications (sequential: usually far fewer), once per overtime cap
    args.workers = prepare_run(args, [scenario],
                               args.replications * PLAN_ROUNDS * len(caps or [0]))

    def run() -> int:
        # the rows, not a DataFrame: the table needs no pandas (only --out's CSV does)
        table = plan(scenario, targets, hubs, replications=args.replications,
                     seed=args.seed, workers=args.workers, scheduler=args.scheduler,
                     max_headcount=args.max_headcount, out=args.out, progress=True,
                     objective=args.objective, patterns=patterns, overtime_hours=caps,
                     as_frame=False)
        doc = table.attrs["plan"]
        text = json.dumps(doc, indent=2, allow_nan=False)
        if args.out is not None:
            write_json_and_csv(args.out, "plan", text, table.frame())
        print(text if args.format == "json" else format_plan(table))
        for warning in doc["warnings"]:
            print(f"mashsim: warning: {warning['message']}", file=sys.stderr)
        infeasible = [row for row in table.rows if not row["feasible"]]
        if infeasible:
            raise ScenarioError([
                f"plan: no headcount up to {row['search_limit']} meets "
                f"{' and '.join(table.attrs['targets'])} with 95% confidence at hub "
                f"{row['hub']}{_role_text(row)}; the target may be out of reach by "
                "staffing alone (see the metrics at the limit above), or raise "
                "--max-headcount" for row in infeasible])
        return 0

    return interruptible(run)


def _role_text(row: dict[str, Any]) -> str:
    """', role X' for a row of a role's search; nothing for a hub's staff."""
    role = row.get("role")
    return f", role {role}" if isinstance(role, str) else ""


# -- tables -------------------------------------------------------------------------


def _num(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _ci_text(mean: Any, low: Any, high: Any, scale: float, decimals: int) -> str:
    return format_ci({"mean": mean, "ci_low": low, "ci_high": high}, fixed(decimals),
                     form="half", scale=scale)


def _grid(head: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths, strict=True)))

    return [line(head), "  ".join("-" * w for w in widths), *(line(r) for r in body)]


def format_sweep(frame, hubs: Sequence[str] = ()) -> str:
    """Headline metrics per scope and point: mean ± CI half-width, and Δ vs point 0.

    Scopes: the force, every hub the sweep changed (`frame.attrs["changed_hubs"]`) and
    `hubs`, so that one hub's change is not hidden in force-wide figures.
    """
    paths = list(frame.attrs.get("vary", {}))
    changed = list(frame.attrs.get("changed_hubs", []))
    scopes = list(dict.fromkeys(["overall", *changed, *hubs]))
    indexed = frame.set_index(["scope", "point", "metric"])
    head = ["scope", "point", *paths]
    for _, title in SWEEP_TABLE:
        head += [title, "Δ"]
    points = sorted(frame["point"].unique())
    body = [_sweep_row(frame, indexed, scope, p, paths) for scope in scopes for p in points]
    a = frame.attrs
    shown = ", ".join(f"{h} (changed)" if h in changed else h for h in scopes[1:]) or "none"
    title = (f"{terminal(a.get('scenario'))} — sweep of {len(points)} point(s), "
             f"{a.get('replications')} replication(s) each (common random numbers), seed "
             f"{a.get('seed')}; scope 'all hubs' is force-wide, then hubs: {shown}; "
             "mean ± 95% CI half-width; Δ = paired difference vs point 0")
    return "\n".join([title, *_grid(head, body)])


def _sweep_row(frame, indexed, scope: str, p: int, paths: list[str]) -> list[str]:
    first = frame[frame["point"] == p].iloc[0]
    row = ["all hubs" if scope == "overall" else scope, str(p), *(str(first[c]) for c in paths)]
    for metric, _ in SWEEP_TABLE:
        info = metric_info(metric)
        scale, dec = info.kind.scale, info.decimals
        if (scope, p, metric) not in indexed.index:
            row += ["n/a", ""]
            continue
        r = indexed.loc[(scope, p, metric)]
        row.append(_ci_text(r["mean"], r["ci_low"], r["ci_high"], scale, dec))
        row.append("" if p == 0 else
                   _ci_text(r["diff_mean"], r["diff_ci_low"], r["diff_ci_high"], scale, dec))
    return row


def format_plan(frame) -> str:
    """Per hub and searched role: posts now and needed, pattern, cost a year now → needed,
    each target metric at the answer and one below (this role one post fewer), and beside
    them the breaches and utilisation now → at the answer (in %), with `!` where a cut
    makes a breach worse beyond its 95 % CI; then replications used and confirmation.
    `frame`: `plan`'s DataFrame, or its `PlanTable` (the same rows, no pandas)."""
    from mashsim.experiment.plan import Target

    a = frame.attrs
    doc = a["plan"]
    records = (frame.rows if hasattr(frame, "rows")
               else frame.to_dict(orient="records"))
    columns = list(frame.columns)
    metrics = list(dict.fromkeys(Target.parse(t).metric for t in a["targets"]))
    warned = {(w["hub"], w.get("role"), w["metric"]) for w in doc["warnings"]}
    roles = "role" in columns
    patterns = any(_text(r["pattern_needed"]) not in ("", "own") for r in records)
    costed = bool(a.get("costed"))
    unchanged = {h for h in doc["hubs"] if _unchanged(records, h)}
    head = ["hub", *(["role"] if roles else []), "now", "needed",
            *(["pattern"] if patterns else [])]
    for m in metrics:
        head += [f"{m} at needed", "at needed−1"]
    head += [f"{title} now→needed" for _, title in PLAN_CONTEXT]
    head += [*(["role util. % now→needed"] if roles else []),
             *(["cost £/yr now→needed"] if costed else [])]
    overtime = "overtime_cap_hours" in columns
    head += ["staff-h/wk now", "needed", "Δ",
             *(["overtime cap h/wk", "overtime £/yr"] if overtime else []), "fresh seeds"]
    body = []
    for row in records:
        needed = row["headcount_needed"]
        feasible = row["feasible"]
        role = row.get("role") if roles else None
        same = row["hub"] in unchanged
        cells = [row["hub"], *([terminal(role or "staff")] if roles else []),
                 str(row["headcount_now"]),
                 str(int(needed)) if feasible else f"> {row['search_limit']}",
                 *([terminal(_text(row["pattern_needed"]))] if patterns else [])]
        for m in metrics:
            label = "at_needed" if feasible else "at_limit"
            cell = _plan_ci(row, f"{m}_{label}")
            cells.append(cell if feasible else f"{cell} (at limit)")
            cells.append(_plan_ci(row, f"{m}_one_below")
                         if feasible and _num(row[f"{m}_one_below_mean"]) is not None else "")
        for m, _ in PLAN_CONTEXT:
            cells.append(_now_to_needed(row, m, same=same)
                         + (WARNED if (row["hub"], role, m) in warned else ""))
        if roles:
            cells.append(_now_to_needed(row, f"utilisation_{role}", same=same)
                         if role else "")
        if costed:
            now_c, need_c = row["cost_per_year_now"], _num(row["cost_per_year_needed"])
            cells.append(_pounds(now_c) if need_c == now_c
                         else f"{_pounds(now_c)} → {_pounds(need_c)}")
        now_h = row["staff_hours_per_week_now"]
        need_h = _num(row["staff_hours_per_week_needed"])
        cells += [f"{now_h:.0f}", "" if need_h is None else f"{need_h:.0f}",
                  "" if need_h is None else f"{need_h - now_h:+.0f}"]
        if overtime:
            cells += [f"{row['overtime_cap_hours']:g}",
                      _pounds(_num(row["overtime_cost_per_year"]))]
        cells.append(_fresh_seeds(doc["hubs"][row["hub"]].get("confirmed"), row["hub"],
                                  role))
        body.append(cells)
    what = (("least cost" if a.get("objective") == "cost" else "fewest posts")
            + (" per hub and role" if roles else " per hub"))
    title = (f"{terminal(a.get('scenario'))} — {what} meeting "
             f"{' and '.join(a['targets'])} "
             f"with 95% confidence; up to {a.get('replications')} replications per "
             f"staffing (sequential), seed {a.get('seed')}; metric mean ± 95% CI "
             "half-width; needed−1: this role one post fewer; now→needed in %"
             " (needed: at the limit where none meets)")
    lines = [title, *_grid(head, body)]
    if costed and doc.get("cost_per_year_needed") is not None:
        lines.append(f"cost a year (posts × hourly cost × rostered hours × 52): "
                     f"£{_pounds(doc['cost_per_year_now'])} now → "
                     f"£{_pounds(doc['cost_per_year_needed'])} needed")
    if overtime and doc.get("overtime_cost_per_year") is not None:
        lines.append(f"overtime at the chosen weekly caps (expected hours × overtime role's "
                     f"hourly cost × premium, a year): £{_pounds(doc['overtime_cost_per_year'])}"
                     " more")
    state = ("confirmed" if doc.get("confirmed") else
             "NOT confirmed everywhere (see \"fresh seeds\" and \"confirmed\" in the JSON)")
    lines.append(f"replications used: {doc.get('replications_used')} one-hub replications; "
                 f"answer and one-below re-run with fresh seeds: {state}")
    if not doc.get("confirmed"):
        lines.append(f"fresh seeds: {FRESH_MISSES}: the answer did not clear every target "
                     f"with 95% confidence on seeds the search never used; {FRESH_BELOW}: "
                     "this role one post fewer did (either way the margin is thin: a post "
                     "more, or fewer, may be what the targets need)")
    if doc["warnings"]:
        lines.append(f"{WARNED.strip()} a cut makes this breach worse beyond its 95% CI "
                     "(paired); every such breach is listed on stderr and in the JSON "
                     "\"warnings\"")
    return "\n".join(lines)


FRESH_MISSES, FRESH_BELOW = "needed misses", "needed−1 meets"


def _fresh_seeds(confirmed: dict[str, Any] | None, hub: str, role: str | None) -> str:
    """A row's confirmation on fresh seeds: the answer meets and this role's one-below
    misses ("confirmed"), or what failed; "" where there is no answer."""
    if not confirmed:
        return ""
    if not confirmed.get("needed_meets"):
        return FRESH_MISSES
    label = hub if role is None else f"{hub}.{role}"
    if confirmed.get("one_below_fails", {}).get(label) is False:
        return FRESH_BELOW
    return "confirmed"


def _unchanged(records: list[dict[str, Any]], hub: str) -> bool:
    """Every searched role of the hub keeps its posts and its pattern."""
    return all(r["feasible"] and r["headcount_needed"] == r["headcount_now"]
               and _text(r["pattern_needed"]) == _text(r["pattern_now"])
               for r in records if r["hub"] == hub)


def _text(value: Any) -> str:
    """A text cell as text: missing (None, or NaN in a DataFrame's row) as ""."""
    return value if isinstance(value, str) else ""


def _plan_ci(row: dict[str, Any], prefix: str) -> str:
    """A target metric in its own unit (fractions as 0–1): mean ± half-width, 3 decimals."""
    ci = {k: row[f"{prefix}_{k}"] for k in ("mean", "ci_low", "ci_high")}
    return format_ci(ci, fixed(3), form="half")


def _now_to_needed(row: dict[str, Any], metric: str,
                   shown: Callable[[float | None], str] | None = None,
                   same: bool = False) -> str:
    """'4.9 → 13.2' (% unless `shown` says), or one figure when the headcount does not
    change."""
    show = _pct if shown is None else shown
    label = "at_needed" if row["feasible"] else "at_limit"
    now, then = _num(row.get(f"{metric}_now_mean")), _num(row.get(f"{metric}_{label}_mean"))
    if now is None and then is None:
        return "n/a"
    return show(then) if same else f"{show(now)} → {show(then)}"


def _pounds(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"
