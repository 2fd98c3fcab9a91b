"""`mashsim report --plan` (issue 14): the answer opens with the plan and its cost."""

from __future__ import annotations

import re
from pathlib import Path

from mashsim.cli import main
from mashsim.scenario.schema import Scenario
from mashsim.validation import tandem_scenario

TARGETS = {"stage_wait_over_1h_research": "<=0.06", "stage_wait_over_1h_decision": "<=0.06"}


def _tandem(path: Path, targets: dict[str, str] | None = TARGETS) -> Path:
    sc = tandem_scenario(arrival_rate_per_hour=2.0, stages=[
        ("research", 1.0, 6), ("decision", 1.5, 5)], horizon_hours=400.0, warmup_hours=50.0)
    data = sc.with_overrides({"hubs.tandem.roles.research.hourly_cost": 20.0,
                              "hubs.tandem.roles.decision.hourly_cost": 35.0}).to_dict()
    if targets:
        data["targets"] = targets
    Scenario.from_dict(data).to_toml(path)
    return path


def test_report_plan_states_the_plan_and_its_cost_first(tmp_path: Path, capsys) -> None:
    path = _tandem(tmp_path / "tandem.toml")
    out = tmp_path / "report.html"
    assert main(["report", str(path), "--plan", "--replications", "3", "--workers", "1",
                 "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    answer = re.search(r"<p class=answer>(.*?)</p>", html, re.S)
    assert answer is not None
    first = answer.group(1)
    m = re.match(r"The cheapest staffing meeting every target \(.*?\): (\d+) posts, "
                 r"£([\d,]+) a year \(now 11 posts, £([\d,]+)\)\.", first)
    assert m, first[:300]
    # now: 6 × £20 + 5 × £35 an hour, always on (168 h a week), 52 weeks
    assert m.group(3) == f"{(6 * 20 + 5 * 35) * 168 * 52:,}"
    assert "<h2>Staffing plan</h2>" in html and "--plan" in html  # the command shown


def test_report_plan_without_targets_is_exit_2_before_running(tmp_path: Path,
                                                              capsys) -> None:
    path = _tandem(tmp_path / "tandem.toml", targets=None)
    out = tmp_path / "report.html"
    assert main(["report", str(path), "--plan", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"mashsim: error: {path}: targets: --plan meets the scenario's "
                   "[targets]; it has none (e.g. sd_breach_72h = \"<=0.05\")\n")
    assert "Traceback" not in err and not out.exists()
