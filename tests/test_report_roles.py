"""The report's 'Roles and stages' section: utilisation by role, waits by stage."""

from __future__ import annotations

import pandas as pd

from mashsim import simulate
from mashsim.report.page import build_report, roles_table
from mashsim.validation import tandem_scenario


def test_report_shows_roles_and_stages_when_the_scenario_has_them(small_scenario) -> None:
    sc = tandem_scenario(arrival_rate_per_hour=2.0, stages=[("research", 1.0, 3),
                         ("decision", 1.5, 2)], horizon_hours=400.0, warmup_hours=48.0)
    sc = sc.with_overrides({"hubs.tandem.roles.decision.hourly_cost": 35.0})
    results = simulate(sc, replications=2, seed=1)
    frame = roles_table(results)
    assert frame is not None and list(frame["hub"]) == ["all hubs", "Tandem"]
    assert {"research posts filled", "research utilisation (%)", "decision utilisation (%)",
            "staff cost (£)", "mean wait, research stage (h)"} <= set(frame.columns)
    assert frame.loc[1, "decision posts filled"] == "2 of 2"
    util = results.summary()["metrics"]["utilisation_research"]["mean"]
    assert frame.loc[0, "research utilisation (%)"].startswith(f"{100 * util:.1f} [")
    report = build_report(results, wait_replications=1)
    assert "<h2>Roles and stages</h2>" in report.html
    assert "roles.csv" in report.tables and "roles_stages.png" in report.figures
    # a scenario without roles or stages: no section, no file
    plain = build_report(simulate(small_scenario, replications=2, seed=1), wait_replications=1)
    assert "Roles and stages" not in plain.html and "roles.csv" not in plain.tables
    assert roles_table(simulate(small_scenario, replications=2, seed=1)) is None
    assert isinstance(frame, pd.DataFrame)
