"""Answers nobody can misread: targets, shift ends, backlog, utilisation, waits by grade.

Each test here failed against the code before its fix (see the commit that added it).
"""

from __future__ import annotations

import numpy as np
import pytest

from mashsim import Scenario
from mashsim.experiment import single_run
from mashsim.model import build_calendar
from mashsim.referrals import draw_referrals
from mashsim.streams import Streams

# ------------------------------------------------ strategy-discussion deadline origin


@pytest.mark.parametrize("starts_at", ["creation", "mash_receipt"])
def test_sd_deadline_counts_from_where_the_scenario_says(
    small_scenario: Scenario, starts_at: str
) -> None:
    sc = small_scenario.with_overrides({
        "strategy_discussions.deadline": {"amount": 72.0, "clock": "elapsed_hours",
                                          "starts_at": starts_at}})
    refs = draw_referrals(sc, Streams(5, 0), build_calendar(sc), "reading")
    origin = refs.created if starts_at == "creation" else refs.handover
    assert np.any(refs.handover > refs.created)  # the two origins really differ
    inside = origin <= sc.horizon_hours  # a clock that starts after the run never runs out
    np.testing.assert_allclose(refs.sd_deadline[inside], origin[inside] + 72.0)
    assert np.all(np.isinf(refs.sd_deadline[~inside]))


def test_sd_deadline_from_mash_receipt_lowers_breaches(small_scenario: Scenario) -> None:
    """Same referrals and events (FIFO discussions): a later deadline can only be met
    more often, and the RPA stage (up to 72 h) makes it strictly less often breached.
    Child cases reach staff through the RPA ("extra_work"), so receipt follows creation."""
    base = small_scenario.with_overrides({"strategy_discussions.discipline": "fifo",
                                          "rpa.early_notification_mode": "extra_work"})
    later = base.with_overrides({"strategy_discussions.deadline.starts_at": "mash_receipt"})
    a = [single_run(base, 2, r).metrics["overall"]["sd_breach_72h"] for r in range(3)]
    b = [single_run(later, 2, r).metrics["overall"]["sd_breach_72h"] for r in range(3)]
    assert all(y <= x for x, y in zip(a, b, strict=True))
    assert sum(b) < sum(a)
