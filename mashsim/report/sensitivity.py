"""Sensitivity results shown: the table, the tornado chart and the report's section.

The chart is a tornado: one bar per input, most influential at the top, its length the
ranking index (Morris mu*, or Sobol ST) with the index's 95 % CI as a whisker. Input keys
come from the command line or a scenario, so every label goes through `safe_text`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from mashsim.report.plots import metric_label, new_figure
from mashsim.safe_text import html_text, plot_label, terminal

__all__ = ["format_sensitivity", "sensitivity_section", "tornado_chart"]

# columns of the table per method: (index name, heading)
COLUMNS = {"morris": (("mu_star", "mu*"), ("sigma", "sigma"), ("mu", "mu")),
           "sobol": (("ST", "ST (total)"), ("S1", "S1 (first order)"))}
WORDS = {"morris": "Morris screening (mu*: mean absolute effect over the range; sigma: "
                   "interaction or non-linearity)",
         "sobol": "Sobol indices (ST: share of variance with interactions; S1: alone)"}


def _value(row: Mapping[str, Any], name: str) -> str:
    if f"{name}_ci_low" in row:
        return f"{row[name]:.4g} [{row[f'{name}_ci_low']:.3g}, {row[f'{name}_ci_high']:.3g}]"
    return f"{row[name]:.4g}"


def format_sensitivity(result: Mapping[str, Any]) -> str:
    """The table `mashsim sensitivity` prints: inputs ranked, indices with 95 % CIs."""
    method = result["method"]
    heads = ["input (range)", *(h for _, h in COLUMNS[method])]
    body = [[terminal(f"{r['key']} = {r['low']:g}..{r['high']:g}"),
             *(_value(r, n) for n, _ in COLUMNS[method])] for r in result["inputs"]]
    widths = [max(len(x) for x in col) for col in zip(heads, *body, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    label, unit, _ = metric_label(result["metric"])
    return "\n".join([
        f"{terminal(result['scenario'])}: sensitivity of {result['metric']} ({label}"
        f"{', ' + unit if unit else ''}) — {WORDS[method]}",
        f"{result['points']} points × {result['replications']} replication(s), seed "
        f"{result['seed']}; indices in the metric's own units (fractions 0-1); "
        "[95 % CI]; most influential first",
        "", line(heads), line(["-" * w for w in widths]), *(line(b) for b in body)])


def tornado_chart(result: Mapping[str, Any]) -> Any:
    """Horizontal bars of the ranking index, largest at the top, with 95 % CI whiskers."""
    rows = list(result["inputs"])[::-1]  # barh draws from the bottom up
    name = result["rank_by"]
    fig = new_figure(7.5, 1.2 + 0.45 * len(rows))
    ax = fig.add_subplot()
    values = [r[name] for r in rows]
    lows = [max(0.0, r[name] - r[f"{name}_ci_low"]) for r in rows]
    highs = [max(0.0, r[f"{name}_ci_high"] - r[name]) for r in rows]
    ax.barh(range(len(rows)), values, xerr=[lows, highs], color="#0072B2",
            error_kw={"ecolor": "#555", "capsize": 3})
    ax.set_yticks(range(len(rows)),
                  [plot_label(r["key"]) + f"\n{r['low']:g} to {r['high']:g}" for r in rows],
                  fontsize=8)
    label = metric_label(result["metric"])[0]
    index = "mu* (Morris)" if name == "mu_star" else "ST, total Sobol index"
    ax.set_xlabel(plot_label(f"{index} for {label}"))
    ax.set_title(plot_label(f"What moves {label} most"), fontsize=10)
    ax.axvline(0, color="#999", linewidth=0.8)
    return fig


def _key_html(row: Mapping[str, Any]) -> str:
    return (f"<code>{html_text(row['key'])}</code> ({html_text(format(row['low'], 'g'))} to "
            f"{html_text(format(row['high'], 'g'))})")


def sensitivity_section(result: Mapping[str, Any], figure_html: str) -> list[str]:
    """'Which inputs matter': the three inputs that move the answer most, the tornado
    (already turned into HTML by the page) and the full table."""
    rank = result["rank_by"]
    top = [r for r in list(result["inputs"])[:3] if r[rank] > 0]  # 0: it moved nothing
    label = html_text(metric_label(result["metric"])[0])
    names = ", ".join(_key_html(r) for r in top)
    rows = "".join(
        "<tr><td>" + _key_html(r) + "</td>"
        + "".join(f"<td>{html.escape(_value(r, n))}</td>" for n, _ in COLUMNS[result["method"]])
        + "</tr>" for r in result["inputs"])
    heads = "".join(f"<th>{html.escape(h)}</th>" for _, h in COLUMNS[result["method"]])
    lead = (f"The input{'s' if len(top) > 1 else ''} that move{'' if len(top) > 1 else 's'} "
            f"{label} most over the ranges given: {names}." if top else
            f"None of the inputs moved {label} over the ranges given.")
    return [
        "<h2>Which inputs matter</h2>",
        f"<p>{lead} {html_text(WORDS[result['method']])}; {result['points']} points × "
        f"{result['replications']} replication(s) each, seed {result['seed']}, the same "
        "random numbers at every point.</p>",
        figure_html,
        f"<table><thead><tr><th>input (range)</th>{heads}</tr></thead><tbody>{rows}"
        "</tbody></table><p class=small>Index [95 % bootstrap CI], in the metric's units "
        "(fractions 0-1). An input whose interval reaches 0 may not matter at all.</p>",
    ]
