"""`mashsim run` and `mashsim validate`."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from mashsim.cli.common import (
    add_replication_options,
    add_scenario_options,
    interruptible,
    load_with_overrides,
    prepare_run,
)
from mashsim.experiment.runner import replication_runner
from mashsim.experiment.simulate import simulate
from mashsim.metrics.registry import hours_tag, metric_info, metrics_help
from mashsim.safe_text import terminal
from mashsim.scenario.schema import Scenario, load_scenario
from mashsim.stats import fixed, format_ci

__all__ = ["format_table", "register", "role_stage_columns", "window_text"]

# (metric, heading in words over up to three lines[, decimals]): the scale (fractions in
# %) and, unless given, the decimals come from the metric registry.
TABLE_COLUMNS: tuple[tuple[Any, ...], ...] = (
    ("referrals_arrived", ("referrals", "arrived")),
    ("backlog_mean", ("mean", "backlog"), 0),
    ("staff_wait_hours_mean", ("mean wait", "for staff", "(hours)")),
    ("decision_target_breach", ("decision", "target", "breach %")),
    ("decision_target_breach_high", ("high-risk", "target", "breach %")),
    ("sd_breach_72h", ("SD past", "72 h %")),
    ("sd_pending_over_72h_at_end", ("SD pending", "> 72 h", "at end")),
    ("oldest_waiting_days_at_end", ("oldest", "waiting", "(days)")),
    ("staff_utilisation", ("staff", "utilisation", "%")),
)
AUDIT_COLUMNS: tuple[tuple[Any, ...], ...] = (  # a second table with reporting.audit_date
    ("audit_sd_pending_over_72h", ("SD pending", "> 72 h")),
    ("audit_sd_pending_over_14d", ("SD pending", "> 14 days")),
    ("audit_oldest_waiting_days", ("oldest", "waiting", "(days)")),
)

TABLE_WIDTH = 120  # characters: a split table keeps every line within a terminal's width


class _ListMetrics(argparse.Action):
    """`--list-metrics`: print every metric name with its unit and meaning, then exit."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(metrics_help())
        parser.exit()


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="simulate a scenario and summarise with 95 %% CIs",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog="metrics (name, unit, meaning; JSON metrics[name] is "
                                "{mean, ci_low, ci_high}; fractions are 0-1):\n"
                                + "\n".join("  " + line for line in
                                            metrics_help().replace("%", "%%").splitlines()))
    add_scenario_options(run, scenario_optional=True)
    add_replication_options(run)
    run.add_argument("--list-metrics", action=_ListMetrics,
                     help="print every metric name with its unit and meaning, and exit")
    run.set_defaults(handler=_run)
    val = sub.add_parser("validate", help="check a scenario file and report every problem")
    val.add_argument("scenario", help="scenario TOML")
    val.set_defaults(handler=_validate)


def _run(args: argparse.Namespace) -> int:
    scenario = load_with_overrides(args.scenario, args.overrides)
    workers = prepare_run(args, [scenario], args.replications)

    def run() -> int:
        with replication_runner(workers, args.scheduler, args.out, progress=True,
                                delay_s=1.0) as runner:
            res = simulate(scenario, args.replications, args.seed, runner=runner)
        if args.out is not None:
            res.write(args.out)
        if args.format == "json":
            print(res.to_json())
        else:
            print(format_table(res.summary(), scenario))
        return 0

    return interruptible(run)


def _validate(args: argparse.Namespace) -> int:
    from mashsim.report.stress import staff_hours_per_week

    sc = load_scenario(args.scenario)
    print(f"{args.scenario}: valid scenario {sc.name!r} with {len(sc.hubs)} hub(s)")
    # A slip in a shift (17:00-09:00 for 09:00-17:00) shows here as a doubled figure.
    print("rostered staff-hours per week (staff rosters, before vacancies and absences):")
    width = max(len(h) for h in sc.hub_names)
    for hub in sc.hub_names:
        print(f"  {hub:<{width}}  {staff_hours_per_week(sc, hub):8.1f}")
    return 0


def _cell(ci: dict[str, Any], scale: float, decimals: int) -> str:
    """'4.9 ±1.2': mean ± half-width; a half of 10 or more loses its decimals (two digits
    say enough)."""
    return format_ci(ci, fixed(decimals), form="half", scale=scale,
                     half_number=lambda h: f"{h:.{decimals if h < 10 else 0}f}")


def _moment(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M")


def window_text(scenario: Scenario) -> str:
    """The reporting window in dates: what every 'arrived' and 'breach' figure counts over."""
    run = scenario.run
    start = dt.datetime.combine(run.start_date, dt.time())
    begin = start + dt.timedelta(days=run.warmup_days)
    end = start + dt.timedelta(days=run.duration_days)
    warmup = (f" after a {run.warmup_days:g}-day warm-up from {run.start_date}"
              if run.warmup_days > 0 else ", no warm-up")
    return (f"Window {_moment(begin)} to {_moment(end)}: "
            f"{run.duration_days - run.warmup_days:g} days{warmup}.")


def _column_cell(metrics: dict[str, Any], column: tuple[Any, ...]) -> str:
    """One column's cell: scale and (unless the column says) decimals from the registry."""
    info = metric_info(column[0])
    decimals = column[2] if len(column) > 2 else info.decimals
    return _cell(metrics[column[0]], info.kind.scale, decimals)


def _grid(rows: list[tuple[str, dict[str, Any]]], columns: tuple) -> list[str]:
    """Rows of hub | cells under headings of up to three lines, right-aligned numbers."""
    depth = max(len(c[1]) for c in columns)
    head = [["", *[""] * (depth - 1), "hub"][-depth:]]
    head += [[""] * (depth - len(c[1])) + list(c[1]) for c in columns]
    body = [[terminal(name), *(_column_cell(m, c) for c in columns)] for name, m in rows]
    widths = [max(len(x) for x in [*head[i], *(r[i] for r in body)]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    out = [line([h[k] for h in head]) for k in range(depth)]
    out.append(line(["-" * w for w in widths]))
    return out + [line(r) for r in body]


def format_table(summary: dict[str, Any], scenario: Scenario) -> str:
    """Per-hub table of the headline metrics (mean ± 95 % CI half-width) with its window
    and a legend, so that no number on it can be read against the wrong period."""
    rows = [(hub, h["metrics"]) for hub, h in summary["hubs"].items()]
    rows.append(("ALL HUBS", summary["metrics"]))
    n = summary["replications"]
    end = (dt.datetime.combine(scenario.run.start_date, dt.time())
           + dt.timedelta(days=scenario.run.duration_days))
    out = [
        f"{terminal(summary['scenario'])} — {n} replication{'s' if n != 1 else ''}, "
        f"seed {summary['seed']}",
        window_text(scenario),
        f"Referrals arriving in the window; mean ± 95 % CI half-width; SD = strategy "
        f"discussion; at end = {_moment(end)}",
        *_uncertainty_line(summary),
        "",
        *_grid(rows, TABLE_COLUMNS),
    ]
    if scenario.reporting.audit_date is not None:
        out += ["", f"At the audit, 00:00 on {scenario.reporting.audit_date}:",
                *_grid(rows, AUDIT_COLUMNS)]
    roles, stages = role_stage_columns(scenario)
    streams = tuple(c for c in WORK_STREAM_COLUMNS if c[0] in summary["metrics"])
    for title, columns in (("By role (utilisation: busy share of rostered time):", roles),
                           ("By stage (waits in the stage's own queue):", stages),
                           ("By work stream (held, listed and arrived: counts in the window):",
                            streams)):
        if columns:
            out += ["", title]
            for part in _fitting(rows, columns):
                out += [*part, ""]
            out.pop()
    return "\n".join(out)


def _uncertainty_line(summary: dict[str, Any]) -> list[str]:
    """With uncertain inputs, one line: how many, the design, and how much of the spread
    of the SD breach rate they explain (the rest is run-to-run noise)."""
    design = summary.get("uncertainty_design")
    if design is None:
        return []
    s = summary["uncertainty"].get("sd_breach_72h", {})
    share = ("not estimable" if s.get("input_share") is None else
             f"{100 * s['input_share']:.0f} % [{100 * s['input_share_ci_low']:.0f}–"
             f"{100 * s['input_share_ci_high']:.0f} %]")
    n = len(design["inputs"])
    return [f"Uncertain inputs: {n} drawn per replication group ({design['draws']} draws × "
            f"{design['replications_per_draw']} replications); share of SD breach variance "
            f"from inputs: {share} (JSON: uncertainty)."]


Columns = tuple[tuple[Any, ...], ...]

# The work streams' columns, each shown when its metric exists (the stream is on).
WORK_STREAM_COLUMNS: Columns = (
    ("sd_held_police_referral", ("SDs held", "police", "referral"), 0),
    ("sd_held_partner", ("SDs held", "partner", "initiated"), 0),
    ("sd_breach_72h_partner", ("partner", "SD past", "72 h %")),
    ("asm_held", ("adult", "meetings", "held"), 0),
    ("asm_breach", ("adult", "meetings", "late %")),
    ("marac_listed", ("MARAC", "cases", "listed"), 0),
    ("marac_rolled_over", ("MARAC", "rolled", "over"), 0),
    ("marac_researched_in_time", ("MARAC", "researched", "in time %")),
    ("repeat_referrals", ("repeat", "referrals"), 0),
    ("linked_referrals", ("linked", "referrals"), 0),
)


def role_stage_columns(scenario: Scenario) -> tuple[Columns, Columns]:
    """The columns of the tables after the main one, for a scenario with roles or stages
    (none without): each described role's utilisation and the staff cost where a role has
    an hourly cost; each described stage's mean wait and share waiting over the first
    reporting threshold."""
    roles = {r: role.label or r for h in scenario.hubs.values()
             for r, role in h.roles.items()}
    cols: list[tuple[Any, ...]] = [(f"utilisation_{r}", (terminal(label), "utilisation",
                                                         "%")) for r, label in roles.items()]
    if scenario.costed:
        cols.append(("staff_hours_cost", ("staff", "cost", "(£)")))
    stage_cols: list[tuple[Any, ...]] = []
    if scenario.stages:
        hours = scenario.reporting.wait_thresholds_hours[0]
        tag = hours_tag(hours)
        for name, stage in scenario.stages.items():
            label = terminal(stage.label or name)
            stage_cols += [(f"stage_wait_hours_mean_{name}", (label, "mean wait", "(hours)")),
                           (f"stage_wait_over_{tag}h_{name}",
                            (label, f"wait > {hours:g} h", "%"))]
    return tuple(cols), tuple(stage_cols)


def _fitting(rows: list[tuple[str, dict[str, Any]]], columns: Columns) -> list[list[str]]:
    """`_grid` tables over consecutive runs of `columns`, each within TABLE_WIDTH (a
    column too wide on its own still gets a table)."""
    parts: list[list[str]] = []
    start = 0
    while start < len(columns):
        end = start + 1
        while (end < len(columns)
               and max(map(len, _grid(rows, columns[start:end + 1]))) <= TABLE_WIDTH):
            end += 1
        parts.append(_grid(rows, columns[start:end]))
        start = end
    return parts
