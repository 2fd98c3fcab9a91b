"""The app's posts and vacancy controls per role per hub where a hub has roles."""

from __future__ import annotations

from mashsim import Scenario
from mashsim.app.whatif import RunSettings, controls, post_controls, what_if
from mashsim.validation import tandem_scenario


def _mixed() -> Scenario:
    """Hub `tandem` described by two roles, hub `plain` by staff alone."""
    data = tandem_scenario(arrival_rate_per_hour=1.0, stages=[("research", 0.6, 2),
                           ("decision", 1.5, 1)], horizon_hours=200.0,
                           warmup_hours=24.0).to_dict()
    data["hubs"]["tandem"]["roles"]["decision"]["label"] = "Detective sergeant"
    data["hubs"]["tandem"]["roles"]["research"]["vacancy_share"] = 0.5
    data["hubs"]["plain"] = {"demand_share": 1.0, "staff": {"headcount": 3}}
    return Scenario.from_dict(data)


def test_posts_per_role_per_hub() -> None:
    sc = _mixed()
    posts = post_controls(sc)
    assert [c.key for c in posts] == ["hubs.tandem.roles.research.headcount",
                                      "hubs.tandem.roles.decision.headcount",
                                      "hubs.plain.staff.headcount"]
    assert [c.value for c in posts] == [2, 1, 3]
    assert posts[1].label == "Tandem Detective sergeant: posts"
    assert all(c.subject in c.label for c in posts)
    vacancies = [c for c in controls(sc) if c.group == "vacancies"]
    assert [c.key for c in vacancies] == ["hubs.tandem.roles.research.vacancies",
                                          "hubs.tandem.roles.decision.vacancies",
                                          "hubs.plain.staff.vacancies"]
    assert vacancies[0].value == 1  # half of two posts


def test_a_role_control_changes_that_role_only() -> None:
    sc = _mixed()
    new = what_if(sc, {"hubs.tandem.roles.decision.headcount": 4,
                       "hubs.tandem.roles.research.vacancies": 0}, RunSettings())
    roles = new.hubs["tandem"].roles
    assert (roles["decision"].headcount, roles["research"].headcount) == (4, 2)
    assert roles["research"].vacant_posts == 0 and roles["research"].vacancy_share is None
    assert new.hubs["plain"].staff.headcount == 3
