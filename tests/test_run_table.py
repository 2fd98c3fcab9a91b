"""The `run` table a newcomer reads: its window, legend, headings in words, and the metric list."""

from __future__ import annotations

import re

import pytest

from mashsim.cli import build_parser, main
from mashsim.cli.run import AUDIT_COLUMNS, TABLE_COLUMNS, format_table
from mashsim.metrics.compute import METRICS
from mashsim.metrics.registry import METRIC_INFO, metric_info

from .conftest import ROOT

# The metric reference (units included) moved from the README to docs/reference/metrics.md.
README = (ROOT / "docs" / "reference" / "metrics.md").read_text(encoding="utf-8")

SHORT = {"run.start_date": "2025-04-07", "run.duration_days": 35.0, "run.warmup_days": 7.0}


def _ci(mean: float, half: float) -> dict[str, float]:
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half}


def _summary(hubs: list[str], high: float = 0.617, overall: float = 0.049) -> dict:
    """A summary with wide cells: 5-digit counts, three-digit half-widths, 100 % shares."""
    metrics = {name: _ci(27809.0, 451.0) if metric_info(name).unit == "count"
               else _ci(1.0, 0.5) if metric_info(name).unit == "fraction" else _ci(411.5, 16.4)
               for name in METRICS}
    metrics["decision_target_breach_high"] = _ci(high, 0.123)
    metrics["decision_target_breach"] = _ci(overall, 0.012)
    return {"scenario": "Thames Valley", "seed": 1, "replications": 10, "metrics": metrics,
            "hubs": {hub: {"metrics": metrics} for hub in hubs}}


def _headings(table: str) -> dict[str, str]:
    """Each column's heading lines joined into one phrase, by the dashes under them."""
    lines = table.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    spans = [m.span() for m in re.finditer(r"-+", lines[rule])]
    head = [line.ljust(len(lines[rule])) for line in lines[:rule]]
    head = head[max((i for i, line in enumerate(head) if not line.strip()), default=-1) + 1:]
    out = {}
    for a, b in spans:
        phrase = " ".join(line[a:b].strip() for line in head if line[a:b].strip())
        out[phrase] = lines[rule + 1][a:b].strip()  # → the first hub's cell
    return out


def test_window_legend_and_headings_in_words(default_scenario) -> None:
    sc = default_scenario.with_overrides(SHORT)
    table = format_table(_summary(sc.hub_names), sc)
    lines = table.splitlines()
    assert lines[1] == ("Window 2025-04-14 00:00 to 2025-05-12 00:00: 28 days after a 7-day "
                        "warm-up from 2025-04-07.")
    assert lines[2].startswith("Referrals arriving in the window; mean ± 95 % CI half-width; "
                               "SD = strategy discussion; at end = 2025-05-12 00:00")
    heads = _headings(table)
    for phrase in ("referrals arrived", "SD pending > 72 h at end", "oldest waiting (days)",
                   "high-risk target breach %", "decision target breach %",
                   "staff utilisation %", "mean wait for staff (hours)"):
        assert phrase in heads, sorted(heads)
    assert heads["high-risk target breach %"] == "61.7 ±12"  # Oxfordshire: not the 4.9 %
    assert heads["decision target breach %"] == "4.9 ±1.2"


def test_fits_in_120_columns_with_wide_cells(default_scenario) -> None:
    sc = default_scenario.with_overrides({**SHORT, "reporting.audit_date": "2025-04-20"})
    table = format_table(_summary(sc.hub_names), sc)
    assert max(len(line) for line in table.splitlines()) <= 120
    assert "At the audit, 00:00 on 2025-04-20:" in table  # its own table
    assert "SD pending > 14 days" in _headings(table.split("2025-04-20:\n")[1])


def test_run_prints_the_window_and_fits(capsys: pytest.CaptureFixture) -> None:
    code = main(["run", "--replications", "2", "--workers", "1", "--set",
                 "run.duration_days=35", "--set", "run.warmup_days=7"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "Window 2025-04-14 00:00 to 2025-05-12 00:00: 28 days" in out
    assert max(len(line) for line in out.splitlines()) <= 120
    assert "high-risk" in out and "ALL HUBS" in out


def test_every_metric_has_a_unit_equal_to_the_readme() -> None:
    assert set(METRIC_INFO) == set(METRICS)
    readme_units = {}
    for row in re.findall(r"^\| (`[a-z_{}0-9]+`(?:, `[a-z_{}0-9]+`)*) \| ([^|]+) \|", README,
                          re.M):
        for name in re.findall(r"`([^`]+)`", row[0]):
            readme_units[name] = row[1].strip()
    for name in [*METRICS, "staff_wait_over_{h}h"]:
        assert metric_info(name).unit == readme_units[name], name
    assert {c[0] for c in TABLE_COLUMNS + AUDIT_COLUMNS} <= set(METRICS)


def test_list_metrics_and_help_name_every_metric_with_its_unit(
        capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--list-metrics"])
    listed, _ = capsys.readouterr()
    assert exc.value.code == 0
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    helped, _ = capsys.readouterr()
    for name in [*METRICS, "staff_wait_over_{h}h"]:
        for text in (listed, helped):
            assert re.search(rf"^\s*{re.escape(name)}\s+{re.escape(metric_info(name).unit)}\s",
                             text, re.M), name


def test_report_usage_shows_out_as_required() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    report = sub.choices["report"]
    usage = report.format_usage()
    assert re.search(r"mashsim report SCENARIO --out \S+", usage)
    assert "[--out" not in usage
    for action in report._actions:  # a hand-written usage line must not fall behind
        assert any(opt in usage for opt in action.option_strings) or not action.option_strings


def test_roles_and_stages_get_their_own_tables_within_120_columns() -> None:
    """A scenario with roles and stages: per-role utilisation (and the cost) and per-stage
    waits in tables after the main one, every line ≤ 120 characters; a hub without a role
    shows n/a, not another hub's figure."""
    from mashsim import Scenario, simulate
    from mashsim.validation import tandem_scenario

    stages = [("research", 1.0, 3), ("decision", 1.5, 2), ("supervisor_review", 3.0, 1),
              ("sharing_with_partners", 3.0, 1)]
    data = tandem_scenario(arrival_rate_per_hour=2.0, stages=stages, horizon_hours=300.0,
                           warmup_hours=24.0).to_dict()
    data["hubs"]["tandem"]["roles"]["research"]["hourly_cost"] = 20.0
    other = {**data["hubs"]["tandem"], "roles": {"generalist": {
        "headcount": 9, "shifts": data["hubs"]["tandem"]["roles"]["research"]["shifts"],
        "skills": [s for s, _, _ in stages]}}}
    data["hubs"]["other"] = other
    sc = Scenario.from_dict(data)
    table = format_table(simulate(sc, 2, 1).summary(), sc)
    assert max(len(line) for line in table.splitlines()) <= 120
    assert "By role (utilisation" in table and "By stage (waits" in table
    parts = [p.split("\n", 1)[1] for p in table.split("By role")[1].split("By stage")]
    roles = _headings(parts[0])
    assert {"research utilisation %", "generalist utilisation %", "staff cost (£)"} <= set(roles)
    assert roles["generalist utilisation %"] == "n/a"  # the first row is hub tandem
    assert roles["research utilisation %"] != "n/a"
    waits = _headings(parts[1])
    assert {"research mean wait (hours)", "research wait > 1 h %",
            "decision mean wait (hours)"} <= set(waits)
    rest = parts[1].split("\n\n")[1]  # the stages that did not fit beside the others
    assert "sharing_with_partners wait > 1 h %" in _headings(rest)


def test_no_role_or_stage_tables_without_them(default_scenario) -> None:
    from mashsim.cli.run import role_stage_columns

    assert role_stage_columns(default_scenario) == ((), ())


def test_list_metrics_names_the_stage_and_role_families(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--list-metrics"])
    out = capsys.readouterr().out
    for family in ("stage_wait_hours_mean_{stage}", "stage_wait_over_{h_stage}",
                   "utilisation_{role}", "staff_hours_cost"):
        assert family in out


def test_work_streams_get_their_own_table_only_when_on(default_scenario) -> None:
    """With the work streams on (the shipped default has them all), a table of each
    stream's counts per hub (every line within 120 columns); without them, none."""
    from mashsim import load_scenario, simulate

    shipped = load_scenario(ROOT / "scenarios" / "thames_valley.toml")
    sc = shipped.hub_alone("reading").with_overrides({**SHORT, "marac.share_by_type": {}})
    on = format_table(simulate(sc, replications=2, seed=1).summary(), sc)
    streams = on.split("By work stream")[1]
    heads = _headings(streams.split("\n", 1)[1])
    assert {"SDs held partner initiated", "adult meetings held"} <= set(heads)
    assert "MARAC cases listed" not in heads  # MARAC is off
    assert max(map(len, on.splitlines())) <= 120
    off = default_scenario.hub_alone("reading").with_overrides(SHORT)
    assert "By work stream" not in format_table(simulate(off, replications=2).summary(), off)
