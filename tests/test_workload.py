"""Expected work (`mashsim.model.workload`): one home for offered load, read by the plan's
first guess and the report's staff-time balance."""

from __future__ import annotations

from pathlib import Path

import pytest

from mashsim import load_scenario
from mashsim.model.workload import referrals_per_week, stage_work_hours_per_week
from mashsim.report.stress import mean_work_hours_per_referral, staff_balance
from mashsim.validation import tandem_scenario

ROOT = Path(__file__).resolve().parent.parent


def test_tandem_work_is_the_offered_load_of_each_stage() -> None:
    """λ/μ per stage: 1/h through research at 1.2/h and decision at 3/h is 0.833 and
    0.333 staff-hours an hour; two always-on people must be busy (0.833 + 0.333) / 2."""
    sc = tandem_scenario(arrival_rate_per_hour=1.0, stages=[("research", 1.2, 1),
                         ("decision", 3.0, 1)], horizon_hours=2000.0, warmup_hours=100.0)
    work = stage_work_hours_per_week(sc, "tandem")
    assert work["research"] == pytest.approx(168.0 / 1.2)
    assert work["decision"] == pytest.approx(168.0 / 3.0)
    assert referrals_per_week(sc, "tandem") == pytest.approx(168.0)
    assert staff_balance(sc).busy_share_needed == pytest.approx((1 / 1.2 + 1 / 3) / 2,
                                                                rel=0.01)


def test_the_report_counts_partner_discussions_as_work() -> None:
    """Partner-initiated discussions add their research, preparation and meeting time to
    the work the report sets against staff time (it once counted referrals' handling only)."""
    sc = load_scenario(ROOT / "scenarios" / "thames_valley.toml")
    none = sc.with_overrides({"strategy_discussions.partner_initiated_per_day": 0.0})
    sd = sc.strategy_discussions
    extra = (sd.partner_initiated_per_day * 7.0 * (
        sd.partner_research_minutes.mean + sd.preparation_minutes.mean
        + sd.meeting_minutes.mean) / 60.0)
    referrals = sum(referrals_per_week(sc, h) for h in sc.hub_names)
    assert mean_work_hours_per_referral(sc) - mean_work_hours_per_referral(none) == \
        pytest.approx(extra / referrals)


def test_the_report_names_the_public_sources_of_the_work_streams() -> None:
    """The inputs with a public source (docs/background/inputs.md) are data in the
    report's input table, not 'no public figure'."""
    from mashsim.report.stress import input_rows

    sc = load_scenario(ROOT / "scenarios" / "thames_valley.toml")
    rows = {r.path: r for r in input_rows(sc)}
    for path, source in [("strategy_discussions.partner_initiated_per_day", "DfE"),
                         ("marac.cases_per_meeting", "SafeLives"),
                         ("marac.share_by_type.domestic_abuse.high", "SafeLives"),
                         ("referral_types.child.repeat_share", "DfE")]:
        assert rows[path].kind == "data" and source in rows[path].basis, rows[path]
    assert rows["marac.research_minutes"].kind == "assumption"
