"""The planning report: one self-contained HTML page a manager can take to a meeting.

`build_report` turns Results (plus optional compared Results and a sweep table) into a
`Report`: the HTML text, each figure as PNG bytes and each table as CSV text.
`write_report` writes either the single HTML file or a folder with report.html and the
PNGs and CSVs beside it, every file atomically. The HTML embeds its images as base64
PNG and refers to nothing outside itself, so it opens offline and prints to PDF cleanly.
The answer comes first; the model description (STRESS-DES) and the reproduction line
close the page, so every report states its assumptions and how to get it again.
"""

from __future__ import annotations

import base64
import io
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mashsim._io import atomic_write_bytes, atomic_write_text
from mashsim._version import __version__
from mashsim.experiment.results import Results
from mashsim.metrics.registry import hours_tag
from mashsim.model.workload import referrals_per_week
from mashsim.report.labels import display_label, hub_label
from mashsim.report.stress import StaffBalance, input_rows, staff_balance, stress_des
from mashsim.safe_text import csv_frame, html_text
from mashsim.scenario.schema import GRADES, Scenario
from mashsim.stats import format_ci

__all__ = [
    "WAIT_REPLICATIONS",
    "Report",
    "answer_paragraph",
    "build_report",
    "display_label",
    "hub_label",
    "hub_table",
    "report_balance",
    "roles_table",
    "staffing_table",
    "sweep_answer",
    "write_report",
]

HUB_COLUMNS = ("decision_target_breach", "decision_target_breach_high", "sd_breach_72h",
               "staff_wait_hours_mean", "backlog_mean", "oldest_waiting_days_at_end",
               "staff_utilisation")


@dataclass
class Report:
    """A built report: the page and the files that go beside it in folder mode."""

    html: str
    figures: dict[str, bytes] = field(default_factory=dict)  # file name → PNG
    tables: dict[str, str] = field(default_factory=dict)  # file name → CSV text


# -- names as a reader sees them -------------------------------------------------


# -- numbers as a reader sees them -------------------------------------------------


def _num(x: float | None, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if unit == "%" or abs(x) < 100:
        return f"{x:.1f}" if abs(x) >= 1 or x == 0 else f"{x:.2f}"
    return f"{x:,.0f}"


def _ci(ci: Mapping[str, Any], scale: float = 1.0, unit: str = "", signed: bool = False) -> str:
    """'34.4 [34.1–34.7]' (or '+4.3 [+3.5 to +5.2]' for differences)."""
    def f(x: float) -> str:
        text = _num(x, unit)
        return ("+" + text) if signed and x > 0 else text

    return format_ci(ci, f, scale=scale, sep=" to " if signed else "–")


def _pct(ci: Mapping[str, Any]) -> str:
    """'34.4 % [34.1–34.7]'."""
    return format_ci(ci, lambda x: _num(x, "%"), scale=100.0, unit=" %")


# -- the answer ----------------------------------------------------------------------


def answer_paragraph(results: Results, comparisons: Mapping[str, Results] | None = None,
                     sweep: pd.DataFrame | None = None, breach_target: float = 0.05,
                     balance: StaffBalance | None = None) -> str:
    """One paragraph of plain text: staff time available vs demand, breach rates, the
    worst hub, each comparison. `balance` is the figure the heatmap shows (computed from
    `results` when not given), so text and figure quote the same numbers."""
    sc, s = results.scenario, results.summary()
    m = s["metrics"]
    if balance is None:
        balance = report_balance(results)
    parts = [_capacity_sentence(results, balance),
        f"Over {s['replications']} replications, {_pct(m['decision_target_breach'])} of "
        "referrals miss their decision target ("
        + ", ".join(f"{g} risk {_pct(m[f'decision_target_breach_{g}'])}" for g in GRADES)
        + f") and {_pct(m['sd_breach_72h'])} of strategy discussions are held later than "
        f"{sc.strategy_discussions.deadline.amount:g} hours (means with 95 % confidence "
        "intervals).",
    ]
    worst = _worst_hub(s)
    if worst is not None and len(sc.hubs) > 1:
        hm = s["hubs"][worst]["metrics"]
        staff = sc.hubs[worst].staff
        posts = _posts_text(staff.headcount, staff.vacant_posts, "its ", _staff_noun(sc))
        parts.append(
            f"The worst hub is {hub_label(sc, worst)}: {_pct(hm['decision_target_breach'])} "
            f"miss their target and {_pct(hm['sd_breach_72h'])} of its strategy discussions "
            f"are late, with {posts} for "
            f"about {referrals_per_week(sc, worst) / 7:.0f} referrals a day.")
    if comparisons:
        from mashsim.report.plots import paired_differences

        for name, other in comparisons.items():
            d = paired_differences(results, other, ["decision_target_breach", "sd_breach_72h"])
            d = d[d["scope"] == "overall"].set_index("metric")
            if d.empty:
                continue
            parts.append(
                f"The alternative “{display_label(other.scenario, name)}” changes the target "
                f"breach rate by {_diff_pts(d.loc['decision_target_breach'])} points and the "
                f"late strategy discussions by {_diff_pts(d.loc['sd_breach_72h'])} points "
                "force-wide (paired over the same referrals).")
    if sweep is not None:
        parts.append(sweep_answer(sweep, "sd_breach_72h", breach_target))
    return " ".join(parts)


def report_balance(results: Results, hub: str | None = None) -> StaffBalance:
    """Staff time against demand with each hub's realised shrinkage: the one source of
    the answer's staffing figures and the heatmap's."""
    from mashsim.report.plots import realised_shrinkage

    return staff_balance(results.scenario, realised_shrinkage(results), hub)


def _staff_noun(sc: Scenario) -> str:
    """Who the posts are: "caseworker" (one role doing every stage) or "staff" (roles)."""
    return "staff" if sc.role_names else "caseworker"


def _posts_text(posts: int, vacant: int, its: str = "", noun: str = "caseworker") -> str:
    """'11 of its 15 posts filled' (or '15 posts, all filled')."""
    if vacant <= 0:
        return f"{posts} {noun} post{'s' if posts != 1 else ''}, all filled"
    return f"{posts - vacant} of {its}{posts} {noun} posts filled"


def _capacity_sentence(results: Results, b: StaffBalance) -> str:
    """Staff time actually available (posts filled, after shrinkage) against the work."""
    sc, m = results.scenario, results.summary()["metrics"]
    n = len(sc.hubs)
    noun = _staff_noun(sc)
    rate = round(sum(referrals_per_week(sc, h) for h in sc.hub_names) / 7.0)
    if b.available_hours_per_week <= 0:
        return f"No {noun} hours are available against {rate:g} referrals a day."
    weeks = (sc.run.duration_days - sc.run.warmup_days) / 7.0
    overtime = m["overtime_hours"]["mean"]
    extra = (f"; overtime added about {overtime / weeks:,.0f} staff-hours a week"
             if overtime and weeks > 0 and overtime / weeks >= 0.5 else "")
    return (
        f"Across the {n} hub{'s' if n != 1 else ''}, with "
        f"{_posts_text(b.posts, b.vacant_posts, noun=noun)} and {100 * b.shrinkage:.1f} % "
        "of their time lost to leave, sickness and other absences "
        f"({b.shrinkage_source} shrinkage), {noun}{'s' if noun == 'caseworker' else ''} are "
        "available for about "
        f"{b.available_hours_per_week:,.0f} staff-hours a week "
        f"({b.rostered_hours_per_week:,.0f} if every post were filled and present) against "
        f"about {b.work_hours_per_week:,.0f} staff-hours of work arriving ({rate:g} "
        f"referrals a day at about {b.work_hours_per_referral * 60:.0f} minutes each, every "
        "stage and work stream counted), so "
        f"they must be busy {100 * b.busy_share_needed:.0f} % of their available time just "
        f"to keep pace (simulated utilisation {_pct(m['staff_utilisation'])}{extra}).")


def _diff_pts(row: pd.Series) -> str:
    return _ci({"mean": row["diff_mean"], "ci_low": row["diff_ci_low"],
                "ci_high": row["diff_ci_high"]}, 100.0, "%", signed=True)


def _worst_hub(summary: Mapping[str, Any]) -> str | None:
    def key(hub: str) -> tuple[float, float]:
        mm = summary["hubs"][hub]["metrics"]
        breach, late = (-1.0 if mm[k]["mean"] is None else float(mm[k]["mean"])
                        for k in ("decision_target_breach", "sd_breach_72h"))
        return breach, late
    hubs = list(summary["hubs"])
    return max(hubs, key=key) if hubs else None


def sweep_answer(frame: pd.DataFrame, metric: str = "sd_breach_72h",
                 target: float = 0.05) -> str:
    """The smallest value of the swept path whose CI upper bound is below `target`."""
    from mashsim.report.plots import metric_label, sweep_axes

    x, scope, others = sweep_axes(frame, None, None)
    rows = frame[(frame["scope"] == scope) & (frame["metric"] == metric)].sort_values(x)
    label = metric_label(metric)[0]
    where = "force-wide" if scope == "overall" else f"in {scope.replace('_', ' ')}"
    if rows.empty:
        return f"The sweep has no {label} results {where}."
    upper = rows["ci_high"].fillna(rows["mean"])
    ok = rows[upper < target]
    also = f" (over the other swept values: {', '.join(others)})" if others else ""
    tested = f"{rows[x].min():g}–{rows[x].max():g}"
    if ok.empty:
        return (f"In the sweep of {x} ({tested}), no value keeps {label} {where} below "
                f"{100 * target:g} % with 95 % confidence{also}.")
    best = ok.iloc[0]
    return (f"In the sweep of {x} ({tested}), {best[x]:g} is the smallest value that keeps "
            f"{label} {where} below {100 * target:g} % with 95 % confidence "
            f"({_pct({'mean': best['mean'], 'ci_low': best['ci_low'], 'ci_high': best['ci_high']})}"
            f"){also}.")


# -- tables --------------------------------------------------------------------------


def hub_table(results: Results) -> pd.DataFrame:
    """One row per hub (and all hubs): demand, staff, and the headline metrics with CIs."""
    from mashsim.report.plots import metric_label

    sc, s = results.scenario, results.summary()
    rows = []
    scopes = [("all hubs", s["metrics"], None)] + [
        (h, v["metrics"], h) for h, v in s["hubs"].items()]
    for name, m, hub in scopes:
        staff = [h.staff for h in sc.hubs.values()] if hub is None else [sc.hubs[hub].staff]
        posts, vacant = sum(r.headcount for r in staff), sum(r.vacant_posts for r in staff)
        rate = sc.arrivals.referrals_per_day if hub is None else sc.hub_rate_per_day(hub)
        row: dict[str, Any] = {"hub": name if hub is None else hub_label(sc, hub),
                               "referrals/day": f"{rate:.1f}",
                               "posts filled": f"{posts - vacant} of {posts}"}
        for metric in HUB_COLUMNS:
            label, unit, scale = metric_label(metric)
            row[f"{label} ({unit})"] = _ci(m[metric], scale, unit)
        rows.append(row)
    return pd.DataFrame(rows)


def staffing_table(results: Results) -> pd.DataFrame:
    """Per hub: posts, vacancies, planned vs realised shrinkage, overtime, research cut short,
    and (with an audit date) the point-in-time audit: what capacity really was."""
    from mashsim.model.staffing import planned_shrinkage

    sc, s = results.scenario, results.summary()
    planned = planned_shrinkage(sc.staffing)
    audit = sc.reporting.audit_date
    rows = []
    for name, m, hub in [("all hubs", s["metrics"], None)] + [
            (h, v["metrics"], h) for h, v in s["hubs"].items()]:
        hubs = list(sc.hubs.values()) if hub is None else [sc.hubs[hub]]
        row: dict[str, Any] = {
            "hub": name if hub is None else hub_label(sc, hub),
            "posts": sum(h.staff.headcount for h in hubs),
            "vacant": sum(h.staff.vacant_posts for h in hubs),
            "shrinkage planned (%)": f"{100 * planned:.1f}",
            "shrinkage realised (%)": _pct(m["realised_shrinkage"]).replace(" %", ""),
            "overtime (staff-h)": _ci(m["overtime_hours"]),
            "decisions without full research": _ci(m["decisions_without_full_research"]),
        }
        if audit is not None:
            row[f"SD pending >72h on {audit}"] = _ci(m["audit_sd_pending_over_72h"])
            row[f"SD pending >14d on {audit}"] = _ci(m["audit_sd_pending_over_14d"])
            row[f"oldest waiting on {audit} (days)"] = _ci(m["audit_oldest_waiting_days"])
        rows.append(row)
    return pd.DataFrame(rows)


def roles_table(results: Results) -> pd.DataFrame | None:
    """Per hub (and all hubs): each described role's posts filled and utilisation, the
    staff cost where a role has an hourly cost, and each described stage's mean wait and
    share waiting over the first reporting threshold; None without roles or stages."""
    from mashsim.report.plots import metric_label

    sc, s = results.scenario, results.summary()
    roles, costed = sc.role_names, sc.costed
    tag = hours_tag(sc.reporting.wait_thresholds_hours[0])
    metrics = [*(f"utilisation_{r}" for r in roles), *(["staff_hours_cost"] if costed else []),
               *(m for st in sc.stages for m in (f"stage_wait_hours_mean_{st}",
                                                 f"stage_wait_over_{tag}h_{st}"))]
    if not metrics:
        return None
    rows = []
    for name, m, hub in [("all hubs", s["metrics"], None)] + [
            (h, v["metrics"], h) for h, v in s["hubs"].items()]:
        row: dict[str, Any] = {"hub": name if hub is None else hub_label(sc, hub)}
        for r in roles:
            posts = [h.roles[r] for h in (sc.hubs.values() if hub is None else [sc.hubs[hub]])
                     if r in h.roles]
            filled = sum(p.headcount - p.vacant_posts for p in posts)
            row[f"{r} posts filled"] = (f"{filled} of {sum(p.headcount for p in posts)}"
                                        if posts else "none")
        for metric in metrics:
            label, unit, scale = metric_label(metric)
            row[f"{label} ({unit})"] = _ci(m[metric], scale, unit)
        rows.append(row)
    return pd.DataFrame(rows)


def _comparison_table(results: Results, comparisons: Mapping[str, Results],
                      base_name: str) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Side by side, force-wide: every metric for each scenario and the paired difference."""
    from mashsim.report.plots import metric_label, paired_differences

    full = {name: paired_differences(results, other) for name, other in comparisons.items()}
    first = next(iter(full.values()))
    overall = first[first["scope"] == "overall"]
    rows = []
    for metric in overall["metric"]:
        label, unit, scale = metric_label(metric)
        row: dict[str, Any] = {"metric": f"{label} ({unit})" if unit else label}
        b = overall[overall["metric"] == metric].iloc[0]
        row[base_name] = _ci(_sub(b, "base"), scale, unit)
        for name, d in full.items():
            r = d[(d["scope"] == "overall") & (d["metric"] == metric)]
            if r.empty:
                continue
            r = r.iloc[0]
            row[name] = _ci(_sub(r, "other"), scale, unit)
            row[f"{name} − {base_name}"] = _ci(_sub(r, "diff"), scale, unit, signed=True)
        rows.append(row)
    return pd.DataFrame(rows), full


def _comparison_labels(results: Results, comparisons: Mapping[str, Results],
                       base_name: str) -> dict[str, str]:
    """Short name (file stem) → display name, for the baseline and each alternative."""
    labels = {base_name: display_label(results.scenario, base_name)}
    for name, other in comparisons.items():
        label = display_label(other.scenario, name)
        labels[name] = label if label not in labels.values() else name  # keep them apart
    return labels


def _column_labels(frame: pd.DataFrame, labels: Mapping[str, str]) -> dict[str, str]:
    """Comparison-table headers with display names ("b − a" included); the CSV keeps ids."""
    out = {}
    for col in frame.columns:
        parts = col.split(" − ")
        if all(p in labels for p in parts):
            out[col] = " − ".join(labels[p] for p in parts)
    return out


def _shown_hubs_text(sc: Any, shown: list[str], asked: Sequence[str] | None) -> str:
    if not shown:
        return ("no hub on its own (no hub's inputs changed)" if asked is None
                else "no hub on its own")
    names = ", ".join(hub_label(sc, h) for h in shown)
    return (f"the hubs whose inputs changed ({names})" if asked is None
            else f"the hubs asked for ({names})")


_HUB_DIFF_METRICS = ("decision_target_breach", "sd_breach_72h", "staff_wait_hours_mean",
                     "backlog_mean", "staff_utilisation")


def _hub_difference_table(sc: Any, diffs: pd.DataFrame, hubs: Sequence[str]) -> pd.DataFrame:
    """One row per hub shown (all hubs first): the paired difference [CI] per headline
    metric, so a change in one hub is not averaged away force-wide."""
    from mashsim.report.plots import metric_label

    rows = []
    for scope in ["overall", *hubs]:
        row: dict[str, Any] = {"hub": "all hubs" if scope == "overall" else hub_label(sc, scope)}
        for metric in _HUB_DIFF_METRICS:
            label, unit, scale = metric_label(metric)
            r = diffs[(diffs["scope"] == scope) & (diffs["metric"] == metric)]
            row[f"{label} ({unit}{' points' if unit == '%' else ''})"] = (
                "n/a" if r.empty else _ci(_sub(r.iloc[0], "diff"), scale, unit, signed=True))
        rows.append(row)
    return pd.DataFrame(rows)


def _clock_start_caption(sc: Any) -> str:
    """Where the decision targets start counting, as the waiting-time legend says it."""
    from mashsim.report.plots import clock_start_text

    starts = {g: clock_start_text(sc.grades[g].decision_target) for g in GRADES}
    if len(set(starts.values())) == 1:
        return next(iter(starts.values()))
    return " / ".join(f"{since} ({g} risk)" for g, since in starts.items())


def _sub(row: pd.Series, prefix: str) -> dict[str, Any]:
    return {k: (None if pd.isna(row[f"{prefix}_{k}"]) else float(row[f"{prefix}_{k}"]))
            for k in ("mean", "ci_low", "ci_high")}


def _csv(frame: pd.DataFrame) -> str:
    buf = io.StringIO()
    csv_frame(frame).to_csv(buf, index=False)  # scenario text never runs as a formula
    return buf.getvalue()


# -- HTML ------------------------------------------------------------------------------

_CSS = """
:root { --ink:#1b1b1b; --muted:#555; --rule:#d0d0d0; --accent:#0072B2; --warn:#D55E00; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: var(--ink); max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px;
  line-height: 1.45; font-size: 15px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 34px 0 8px; padding-bottom: 4px;
  border-bottom: 2px solid var(--accent); }
h3 { font-size: 1.05em; margin: 18px 0 6px; }
.meta { color: var(--muted); margin: 0 0 16px; }
.answer { background: #eef5fb; border-left: 6px solid var(--accent); padding: 14px 18px;
  font-size: 1.06em; }
figure { margin: 12px 0 18px; }
figure img { max-width: 100%; height: auto; display: block; border: 1px solid #eee; }
figcaption { color: var(--muted); font-size: 0.9em; margin-top: 6px; }
table { border-collapse: collapse; font-size: 0.86em; margin: 8px 0 16px; width: 100%; }
th, td { border-bottom: 1px solid var(--rule); padding: 4px 8px; text-align: right;
  vertical-align: top; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
tbody tr:nth-child(even) { background: #fafafa; }
table.text td { text-align: left; overflow-wrap: break-word; }
table.inputs { table-layout: fixed; }
table.inputs th:nth-child(1) { width: 30%; } table.inputs th:nth-child(2) { width: 36%; }
table.inputs th:nth-child(3) { width: 12%; } table.inputs th { text-align: left; }
table.inputs code { overflow-wrap: anywhere; }
td .ci { color: var(--muted); font-size: 0.88em; white-space: nowrap; }
.scroll { overflow-x: auto; }
.kind { white-space: nowrap; display: inline-block; padding: 0 6px; border-radius: 3px;
  font-size: 0.85em; }
.kind-data { background: #d9f0e6; } .kind-rule { background: #dbe9f6; }
.kind-assumption { background: #fbe3d3; } .kind-setting { background: #ececec; }
.changed { color: var(--warn); font-weight: 600; }
dl { margin: 4px 0 10px; } dt { font-weight: 600; margin-top: 6px; } dd { margin: 2px 0 0 18px; }
code, .repro { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.repro { background: #f5f5f5; border: 1px solid var(--rule); padding: 10px 12px;
  white-space: pre-wrap; overflow-wrap: break-word; font-size: 0.88em; }
.small { font-size: 0.88em; color: var(--muted); }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  figure, .answer, dl { break-inside: avoid; page-break-inside: avoid; }
  .scroll { overflow: visible; }
  tr { break-inside: avoid; }
  .answer { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .no-print { display: none; }
}
"""


def _esc(x: Any) -> str:
    return html_text(x)


def _table_html(frame: pd.DataFrame, cls: str = "") -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell_html(v)}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False))
    cls_attr = f' class="{cls}"' if cls else ""
    return (f"<div class=scroll><table{cls_attr}><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def _cell_html(value: Any) -> str:
    """'22.6 [22.0–23.2]' → the mean, then the interval in small type kept on one line."""
    text = str(value)
    m = re.fullmatch(r"(\S+) (\[.+\])", text)
    if not m:
        return _esc(text)
    return f"{_esc(m.group(1))} <span class=ci>{_esc(m.group(2))}</span>"


def _figure_html(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(alt)}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


def _input_row_html(path: str, value_html: str, kinds: list[str], basis: str) -> str:
    spans = " ".join(f'<span class="kind kind-{_esc(k)}">{_esc(k)}</span>' for k in kinds)
    code = _esc(path).replace(".", ".<wbr>")  # break long paths between keys
    return (f"<tr><td><code>{code}</code></td><td>{value_html}</td><td>{spans}</td>"
            f"<td>{_esc(basis)}</td></tr>")


_INPUTS_HEAD = ('<div class=scroll><table class="text inputs"><thead><tr><th>input</th>'
                "<th>value</th><th>kind</th><th>basis</th></tr></thead><tbody>")


def _hub_values_html(sc: Any, values: Mapping[str, str]) -> str:
    """Hubs grouped by value, one group a line: 'Reading, Slough: 4'; 'all hubs: …'."""
    groups: dict[str, list[str]] = {}
    for hub, value in values.items():
        groups.setdefault(value, []).append(hub_label(sc, hub))
    if len(groups) == 1 and len(values) == len(sc.hubs):
        return f"all hubs: {_esc(next(iter(groups)))}"
    return "<br>".join(f"{_esc(', '.join(hubs))}: {_esc(value)}"
                       for value, hubs in groups.items())


def _inputs_html(results: Results) -> str:
    """The inputs, then the hub inputs: one row per input with each hub's value, so the
    table has four columns however many hubs and inputs there are (it fits A4)."""
    sc = results.scenario
    rows = input_rows(sc)
    out = [_INPUTS_HEAD]
    for r in rows:
        if r.path.startswith("hubs."):
            continue
        changed = (f' <span class="changed">changed from {_esc(r.changed_from)}</span>'
                   if r.changed_from else "")
        out.append(_input_row_html(r.path, _esc(r.value) + changed, [r.kind], r.basis))
    out.append("</tbody></table></div>")
    by_input: dict[str, dict[str, str]] = {}
    kinds: dict[str, dict[str, str]] = {}
    for r in rows:
        if r.path.startswith("hubs."):
            _, hub, rest = r.path.split(".", 2)
            by_input.setdefault(rest, {})[hub] = r.value + (" ⚑" if r.changed_from else "")
            kinds.setdefault(rest, {}).setdefault(r.kind, r.basis)
    if by_input:
        out.append("<h3>Hub inputs</h3>" + _INPUTS_HEAD)
        for rest, values in by_input.items():
            out.append(_input_row_html(f"hubs.*.{rest}", _hub_values_html(sc, values),
                                       list(kinds[rest]),
                                       "; ".join(dict.fromkeys(kinds[rest].values()))))
        out.append("</tbody></table></div><p class=small>⚑ differs from the bundled working "
                   "figure (an assumption unless its source is recorded).</p>")
    return "".join(out)


def _stress_html(results: Results, command: str | None,
                 comparisons: Mapping[str, Results] | None) -> str:
    sections = stress_des(results.scenario, results.replications, results.seed, command,
                          {display_label(v.scenario, k): v.scenario
                           for k, v in (comparisons or {}).items()})
    out = []
    for sec in sections:
        out.append(f"<h3>{sec.number}. {_esc(sec.title)}</h3><dl>")
        for i, (head, text) in enumerate(sec.items, 1):
            out.append(f"<dt>{sec.number}.{i} {_esc(head)}</dt><dd>{_esc(text)}</dd>")
        out.append("</dl>")
        if sec.title == "Data":
            out.append(_inputs_html(results))
    return "".join(out)


#: Replications whose per-referral waits the report draws: `mashsim report` asks the
#: runner to keep outcomes for these, so the page never runs the model itself.
WAIT_REPLICATIONS = 5


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "scenario"


def build_report(
    results: Results,
    comparisons: Mapping[str, Results] | None = None,
    sweep: pd.DataFrame | None = None,
    command: str | None = None,
    breach_target: float = 0.05,
    base_name: str = "baseline",
    wait_replications: int = WAIT_REPLICATIONS,
    hubs: Sequence[str] | None = None,
    sensitivity: Mapping[str, Any] | None = None,
    plan: pd.DataFrame | None = None,
) -> Report:
    """Assemble the page. `comparisons` maps a short name to Results run with the same
    seed (common random numbers); `sweep` is `mashsim.plots.read_sweep(...)`'s table.
    `hubs`: the hubs the comparison shows beside the force (default: those whose inputs
    changed). `sensitivity`: `mashsim.experiment.sensitivity.run_sensitivity`'s result,
    for a section naming the inputs that move the answer most. `plan`:
    `mashsim.experiment.plan.plan`'s frame; the answer then opens with the plan and its
    cost, and a section gives it per hub."""
    from mashsim.report import plots

    sc = results.scenario
    comparisons = dict(comparisons or {})
    balance = report_balance(results)
    figures: dict[str, bytes] = {}
    tables: dict[str, str] = {}
    body: list[str] = []

    def fig(name: str, figure: Any, alt: str, caption: str) -> str:
        figures[f"{name}.png"] = plots.to_png(figure)
        return _figure_html(figures[f"{name}.png"], alt, caption)

    window = (f"{sc.run.duration_days:g} days from {sc.run.start_date}, "
              + (f"first {sc.run.warmup_days:g} days warm-up" if sc.run.warmup_days > 0
                 else "no warm-up"))
    body.append(f"<h1>MASH staffing report — {_esc(sc.name)}</h1>"
                f"<p class=meta>{_esc(sc.description)} {results.replications} replications, "
                f"seed {results.seed}; {_esc(window)}. mashsim {__version__}.</p>")
    answer = answer_paragraph(results, comparisons, sweep, breach_target, balance)
    if plan is not None:  # the plan and its cost first (issue 14)
        from mashsim.report.plan_section import plan_sentence

        answer = f"{plan_sentence(plan)} {answer}"
    body.append("<h2>Answer</h2><p class=answer>" + _esc(answer) + "</p>")
    if plan is not None:
        body += _plan_section(plan, tables)

    hub_frame = hub_table(results)
    tables["hubs.csv"] = _csv(hub_frame)
    tables["summary.csv"] = _csv(results.summary_frame())
    body.append("<h2>Breach rates by hub</h2>")
    body.append(fig("breach_by_hub", plots.breach_by_hub(results), "Breach rates by hub",
                    "Share of referrals missing their decision target, and of strategy "
                    "discussions held late, per hub: mean and 95 % confidence interval."))
    body.append(_table_html(hub_frame) + "<p class=small>Mean [95 % confidence interval] across "
                "replications. Work and breaches count referrals created after the warm-up."
                "</p>")

    body.append("<h2>Backlog over time</h2>")
    body.append(fig("backlog", plots.backlog_over_time(results), "Backlog over time per hub",
                    "Referrals open at the end of each day (awaiting the officer's assessment, "
                    "queued for staff, or in progress): mean and 95 % CI band across "
                    "replications; orange: the part queued for staff. Dashed: a backlog equal "
                    "to 72 hours of the hub's demand — above it the average referral spends "
                    "more than 72 h in the MASH (Little's law). Each panel's title gives the "
                    "hub's decision-target and strategy-discussion (> 72 h) breach rates "
                    "(mean [95 % CI])."))

    waits = plots.wait_records(results, wait_replications)
    body.append("<h2>Waiting times by risk grade</h2>")
    body.append(fig("waits", plots.wait_distribution(results, waits),
                    "Waiting time distributions by risk grade",
                    "Share of referrals still waiting after a given time (log scale), pooled "
                    f"over {waits['replication'].nunique()} replication(s). Solid: "
                    f"{_clock_start_caption(sc)} to decision, the clock the targets run on; "
                    "dotted: hand-over to staff until staff start. Dashed: the grade's "
                    "decision target (for working-hour targets, the median elapsed length). "
                    "Referrals still open at the end count at their age so far."))

    body.append("<h2>Demand and staff by hour of week</h2>")
    body.append(fig("demand_capacity", plots.demand_capacity_heatmap(results, balance=balance),
                    "Demand and staff by hour of week",
                    "Referrals arriving and caseworkers available, averaged by hour of week "
                    "over the reporting window, and the balance: staff-hours available minus "
                    "the staff work arriving (referrals × mean work per referral). Available "
                    "means filled posts on their rosters less the realised shrinkage (leave, "
                    "sickness, abstractions); overtime is not included. Orange hours build "
                    "the backlog that purple hours must clear."))

    staffing = staffing_table(results)
    tables["staffing.csv"] = _csv(staffing)
    body.append("<h2>Staff time: planned and realised</h2>")
    body.append(_table_html(staffing) + "<p class=small>Planned shrinkage is what leave "
                "entitlement, sickness and abstractions should take from filled posts' "
                "rostered time; realised is what the simulated absences took (mean [95 % CI]). "
                "Overtime and decisions made without full research are totals over the "
                "reporting window; audit columns are point-in-time counts at 00:00 on the "
                "audit date.</p>")

    body += _roles_section(results, fig, tables)

    if comparisons:
        side, full = _comparison_table(results, comparisons, base_name)
        tables["comparison.csv"] = _csv(side)
        for name, d in full.items():
            tables[f"comparison_{_slug(name)}.csv"] = _csv(d)
        crn = all(o.seed == results.seed for o in comparisons.values())
        labels = _comparison_labels(results, comparisons, base_name)
        shown = plots._comparison_scopes(results, comparisons, hubs)[1:]
        body.append("<h2>Comparison</h2>")
        chart = plots.comparison_chart(
            results, {labels[n]: o for n, o in comparisons.items()}, hubs=hubs,
            base_name=labels[base_name])
        body.append(fig("comparison", chart, "Paired differences from the baseline",
                        "Change from the baseline, paired per replication, with 95 % CIs: "
                        "all hubs (dark bars) and " + _shown_hubs_text(sc, shown, hubs) + ". "
                        "A bar whose interval crosses zero is no detectable change with this "
                        "number of replications."))
        if shown:
            for name, d in full.items():
                body.append(f"<h3>By hub: {_esc(labels[name])} − {_esc(labels[base_name])}</h3>"
                            + _table_html(_hub_difference_table(sc, d, shown)))
        body.append("<p>Force-wide, every metric: mean [95 % CI] for each scenario and the "
                    "paired difference. "
                    + ("All scenarios ran with the same seed, so replication r of each saw "
                       "the same referrals (common random numbers)." if crn else
                       "Seeds differ, so the pairs do not share random numbers and the "
                       "intervals are wider.")
                    + " Per-hub differences are in the CSV files beside the report.</p>")
        body.append(_table_html(side.rename(columns=_column_labels(side, labels))))

    if sweep is not None:
        tables["sweep.csv"] = _csv(sweep)
        body.append("<h2>Staffing sweep</h2>")
        body.append(f"<p>{_esc(sweep_answer(sweep, 'sd_breach_72h', breach_target))} "
                    f"{_esc(sweep_answer(sweep, 'decision_target_breach', breach_target))}</p>")
        body.append(fig("sweep", plots.sweep_chart(sweep, target=breach_target),
                        "Breach rate against headcount",
                        "Breach rates at each swept value with 95 % CI bands (clipped to "
                        f"0–100 %); dashed: the {100 * breach_target:g} % planning target."))

    if sensitivity is not None:
        from mashsim.report.sensitivity import sensitivity_section, tornado_chart

        tables["sensitivity.csv"] = _csv(pd.DataFrame(sensitivity["inputs"]))
        body += sensitivity_section(sensitivity, fig(
            "tornado", tornado_chart(sensitivity), "Inputs that move the answer most",
            "Each input's influence over its range, most influential at the top, with its "
            "95 % bootstrap CI."))

    rows = input_rows(sc)
    tables["inputs.csv"] = _csv(pd.DataFrame([r.__dict__ for r in rows]))
    body.append("<h2>Model description (STRESS-DES)</h2><p class=small>Structured after the "
                "STRESS-DES guideline for reporting discrete-event simulation studies (Monks "
                "et al., Journal of Simulation 13(1), 2019).</p>")
    body.append(_stress_html(results, command, comparisons))

    repro = command or (f"simulate(load_scenario(...), replications={results.replications}, "
                        f"seed={results.seed})")
    body.append("<h2>Reproduce</h2>"
                f"<pre class=repro>{_esc(repro)}</pre>"
                f"<p class=small>mashsim {__version__}, seed {results.seed}, "
                f"{results.replications} replications. The same command, version and seed give "
                "the same numbers on any machine, whatever the number of workers.</p>")

    page = ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>MASH staffing report — {_esc(sc.name)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")
    return Report(html=page, figures=figures, tables=tables)


def _plan_section(plan: pd.DataFrame, tables: dict[str, str]) -> list[str]:
    """The staffing plan per hub and role (`report --plan`), and plan.csv beside it."""
    from mashsim.report.plan_section import plan_table

    frame = plan_table(plan)
    tables["plan.csv"] = _csv(frame)
    doc = plan.attrs["plan"]
    return ["<h2>Staffing plan</h2>", _table_html(frame) + "<p class=small>The least "
            f"{'cost' if doc['objective'] == 'cost' else 'posts'} per hub meeting "
            f"{_esc(' and '.join(doc['targets']))} with 95 % confidence (mashsim plan: "
            f"{doc['replications_used']:,} one-hub replications; the answer and each role's "
            "one-below re-run with fresh seeds). Cost a year: posts × hourly cost × "
            "rostered hours × 52.</p>"]


def _roles_section(results: Results, fig: Any, tables: dict[str, str]) -> list[str]:
    """'Roles and stages': utilisation by role and waits by stage, where the scenario
    describes them (nothing otherwise, so such reports are unchanged)."""
    from mashsim.report import plots

    frame = roles_table(results)
    figure = plots.roles_and_stages(results)
    if frame is None:
        return []
    tables["roles.csv"] = _csv(frame)
    out = ["<h2>Roles and stages</h2>"]
    if figure is not None:
        out.append(fig("roles_stages", figure, "Utilisation by role and waits by stage",
                       "Per hub: each role's utilisation (busy share of its rostered time) "
                       "and the mean wait in each stage's own queue, mean and 95 % CI. The "
                       "role near full utilisation with the longest queue in front of it is "
                       "the bottleneck."))
    out.append(_table_html(frame) + "<p class=small>Mean [95 % CI] across replications. A "
               "role's utilisation counts its rostered time in the window; the staff cost "
               "is rostered (paid) and overtime staff-hours × each role's hourly cost; a "
               "stage's wait runs from joining its queue to the start of its work.</p>")
    return out


def write_report(report: Report, out: str | Path) -> list[Path]:
    """`out` ending in .html: that one file. Otherwise a folder: report.html + PNGs + CSVs.

    Each file is written to a temporary name and renamed, so none is ever half-written.
    """
    out = Path(out)
    if out.suffix.lower() in (".html", ".htm"):
        _readable(atomic_write_text, out, report.html)
        return [out]
    written = []
    for name, png in report.figures.items():
        _readable(atomic_write_bytes, out / name, png)
        written.append(out / name)
    for name, text in report.tables.items():
        _readable(atomic_write_text, out / name, text)
        written.append(out / name)
    _readable(atomic_write_text, out / "report.html", report.html)  # last: means done
    return [*written, out / "report.html"]


def _readable(write: Any, path: Path, data: Any) -> None:
    """Atomic write, then the usual permissions (the temp file is created 0600)."""
    write(path, data)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)

