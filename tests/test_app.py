"""`mashsim app`: the what-if logic, the job runner and the page (Streamlit's AppTest)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from mashsim.app import SCENARIO_ENV, page_path
from mashsim.app import compare as cmp
from mashsim.app.jobs import JobManager, simulate_job
from mashsim.app.launch import streamlit_command
from mashsim.app.loading import load_upload, markdown_text, shipped_scenarios
from mashsim.app.whatif import RunSettings, changes, controls, post_controls, what_if
from mashsim.cli import main
from mashsim.errors import InputError

from .conftest import DEFAULT, one_hub

READING_POSTS = "hubs.reading.staff.headcount"


@pytest.fixture(scope="module")
def two_hubs(default_scenario):
    """Reading and Slough for 6 weeks after a 1-week warm-up: quick, and two scopes."""
    data = one_hub(default_scenario).to_dict()
    data["hubs"]["slough"] = default_scenario.to_dict()["hubs"]["slough"]
    data["hubs"]["reading"]["demand_share"] = default_scenario.hubs["reading"].demand_share
    data["arrivals"]["referrals_per_day"] = (default_scenario.hub_rate_per_day("reading")
                                             + default_scenario.hub_rate_per_day("slough"))
    data["run"].update(duration_days=49.0, warmup_days=7.0)
    from mashsim import Scenario

    return Scenario.from_dict(data)


# -- what-if controls ------------------------------------------------------------------


def test_posts_are_one_control_per_hub_at_the_headcount_key(default_scenario) -> None:
    posts = post_controls(default_scenario)
    assert [c.key for c in posts] == [f"hubs.{h}.staff.headcount"
                                      for h in default_scenario.hub_names]
    assert {c.key: c.value for c in posts}[READING_POSTS] == 4
    assert next(c for c in posts if c.key == READING_POSTS).label == "Reading: posts"


def test_only_changed_controls_become_overrides(default_scenario) -> None:
    chosen = {c.key: c.value for c in controls(default_scenario)}
    assert changes(default_scenario, chosen) == {}
    chosen.update({READING_POSTS: 6, "queue.discipline": "risk",
                   "officer_assessment.cap_hours": 48.0})
    assert changes(default_scenario, chosen) == {READING_POSTS: 6, "queue.discipline": "risk",
                                                 "officer_assessment.cap_hours": 48.0}


def test_leave_peak_sets_every_peak(default_scenario) -> None:
    delta = changes(default_scenario, {"staffing.leave.peaks.*.factor": 2.0})
    sc = what_if(default_scenario, {"staffing.leave.peaks.*.factor": 2.0}, RunSettings())
    assert len(delta) == len(default_scenario.staffing.leave.peaks) == 5
    assert {p.factor for p in sc.staffing.leave.peaks} == {2.0}


def test_a_vacancy_count_replaces_a_vacancy_share(default_scenario) -> None:
    base = default_scenario.with_overrides({"hubs.reading.staff.vacancy_share": 0.5})
    sc = what_if(base, {"hubs.reading.staff.vacancies": 1}, RunSettings())
    assert (sc.hubs["reading"].staff.vacancies, sc.hubs["reading"].staff.vacancy_share) == (1, None)


def test_invalid_what_if_names_the_key_path(default_scenario) -> None:
    with pytest.raises(InputError) as err:
        what_if(default_scenario, {"hubs.reading.staff.vacancies": 9}, RunSettings())
    assert err.value.problems == ["what-if: hubs.reading.staff: vacancies (9) exceed "
                                  "headcount (4)"]


def test_short_horizon_applies_to_the_run(default_scenario) -> None:
    sc = what_if(default_scenario, {}, RunSettings(duration_days=91.0))
    assert sc.run.duration_days == 91.0 and sc.hubs == default_scenario.hubs


# -- loading and text ------------------------------------------------------------------


def test_upload_problems_name_the_uploaded_file() -> None:
    text = DEFAULT.read_text().replace("headcount = 4,", "headcount = -2,", 1)
    with pytest.raises(InputError) as err:
        load_upload("../../my force.toml", text.encode())
    assert err.value.problems == ["my force.toml: hubs.reading.staff.headcount: Input should "
                                  "be greater than or equal to 0, got -2"]


def test_upload_that_is_not_toml() -> None:
    with pytest.raises(InputError) as err:
        load_upload("x.toml", b"[hubs\n")
    assert err.value.problems[0].startswith("x.toml: not valid TOML: ")


def test_upload_reads_back_a_downloaded_what_if(default_scenario) -> None:
    sc = what_if(default_scenario, {READING_POSTS: 6}, RunSettings())
    assert load_upload("what_if.toml", cmp.scenario_toml(sc).encode()) == sc


def test_shipped_scenarios_list_the_command_line_one_first(tmp_path) -> None:
    own = tmp_path / "mine.toml"
    own.write_text(DEFAULT.read_text())
    names = list(shipped_scenarios(own))
    assert names[0] == "mine.toml (from the command line)"
    assert "thames_valley.toml" in names
    assert next(iter(shipped_scenarios())) == "thames_valley.toml"


def test_scenario_text_is_shown_literally_in_markdown() -> None:
    assert markdown_text("**[x](javascript:1)** $y$") == \
        r"\*\*\[x\]\(javascript\:1\)\*\* \$y\$"


# -- jobs: worker processes, cache, cancel ---------------------------------------------


@pytest.fixture(scope="module")
def jobs() -> JobManager:
    manager = JobManager()
    yield manager
    manager.shutdown()


def test_a_job_gives_what_simulate_gives_and_is_cached(jobs, small_scenario) -> None:
    from mashsim import simulate

    job = jobs.submit(("t", 1), simulate_job, (small_scenario, 3, 7, 2), total=3)
    assert job.wait(60) == "done" and job.done == 3
    expected = simulate(small_scenario, replications=3, seed=7).summary()
    assert job.result.summary() == expected
    again = jobs.submit(("t", 1), simulate_job, (small_scenario, 3, 7, 2), total=3)
    assert again.state == "done" and again.result is job.result  # no new process


def test_job_input_problems_come_back(jobs, small_scenario) -> None:
    from mashsim.app.jobs import plan_job

    job = jobs.submit(("bad plan",), plan_job, (small_scenario, ["nonsense<=1"], ["reading"],
                                                 2, 1, 1))
    assert job.wait(60) == "failed"
    assert job.problems[0].startswith("--target nonsense<=1: unknown metric 'nonsense'")


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        out |= {int(p) for p in task.read_text().split()}
    return out


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" in status.read_text()  # a zombie has stopped


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_cancel_stops_the_job_and_its_workers(jobs, default_scenario) -> None:
    job = jobs.submit(("long",), simulate_job, (default_scenario, 200, 1, 2), total=200)
    deadline = time.monotonic() + 30
    while job.poll() == "running" and job.done < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = job._process.pid
    workers = _children(pid)
    assert workers, "the job should run its replications on worker processes"
    job.cancel()
    assert job.state == "cancelled" and _gone(pid)
    deadline = time.monotonic() + 10
    while not all(_gone(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(w) for w in workers)
    assert jobs.cached(("long",)) is None


# -- comparison ------------------------------------------------------------------------


def test_paired_comparison_sees_only_the_hub_that_changed(two_hubs) -> None:
    from mashsim import simulate

    base = simulate(two_hubs, replications=4, seed=3)
    other = simulate(what_if(two_hubs, {READING_POSTS: 2}, RunSettings()), replications=4,
                     seed=3)
    diffs = cmp.comparison(base, other)
    table = cmp.breach_table(two_hubs, diffs).set_index("Hub")
    # Slough did not change and sees the same referrals: its paired change is exactly 0.
    assert table.loc["Slough", "Decision target: change [95 % CI]"] == "0.0 pts [0.0 to 0.0]"
    reading = diffs[(diffs["scope"] == "reading") & (diffs["metric"] == "sd_breach_72h")]
    assert reading["diff_ci_low"].iloc[0] > 0  # half the posts: more breaches, beyond noise
    assert list(cmp.waits_table(diffs)["Risk grade"]) == ["high", "medium", "standard", "all"]
    assert set(cmp.utilisation_table(two_hubs, diffs)["Role"]) == {cmp.ROLE_LABEL}
    assert cmp.breach_figure(two_hubs, diffs).axes and cmp.backlog_figure(base, other).axes
    assert cmp.results_csv(other).startswith("hub,metric,mean,ci_low,ci_high")


# -- the command -----------------------------------------------------------------------


def test_app_refuses_a_bad_scenario_before_starting(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(DEFAULT.read_text().replace("headcount = 4,", "headcount = -2,", 1))
    assert main(["app", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == (f"mashsim: error: {bad}: hubs.reading.staff.headcount: Input should be "
                   "greater than or equal to 0, got -2\n")


def test_app_without_the_extra_says_how_to_install(monkeypatch, capsys) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "streamlit" else real(name, *a))
    assert main(["app"]) == 2
    assert "pip install 'mashsim[app]'" in capsys.readouterr().err


def test_app_port_must_be_a_port(capsys) -> None:
    with pytest.raises(SystemExit) as ex:
        main(["app", "--port", "70000"])
    assert ex.value.code == 2 and "must be 0 (any free port) to 65535" in capsys.readouterr().err


def test_server_is_loopback_only_without_telemetry() -> None:
    cmd = streamlit_command(8765)
    assert "--server.address=127.0.0.1" in cmd and "--server.port=8765" in cmd
    assert "--browser.gatherUsageStats=false" in cmd and "--server.headless=true" in cmd


# -- the page (Streamlit's own test harness) -------------------------------------------


@pytest.fixture
def page(tmp_path, monkeypatch, two_hubs):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    path = tmp_path / "two_hubs.toml"
    two_hubs.to_toml(path)
    monkeypatch.setenv(SCENARIO_ENV, str(path))
    at = AppTest.from_file(str(page_path()), default_timeout=60)
    return at.run()


def _by_label(widgets, label: str):
    return next(w for w in widgets if w.label == label)


def _run_until_results(at, timeout_s: float = 60.0):
    _by_label(at.button, "Run what-if").click().run()
    deadline = time.monotonic() + timeout_s
    while at.session_state["active"] is not None and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
    assert not at.exception
    return at


def test_page_opens_on_the_given_scenario(page) -> None:
    assert not page.exception
    assert _by_label(page.number_input, "Reading: posts").value == 4
    assert _by_label(page.selectbox, "Queue discipline").value == "fifo"
    assert [t.label for t in page.tabs] == ["What-if", "Plan", "Downloads"]


def test_page_runs_a_what_if_against_the_baseline(page) -> None:
    _by_label(page.number_input, "Reading: posts").set_value(2).run()
    at = _run_until_results(page)
    shown = at.session_state["shown"]
    assert shown["changes"] == {READING_POSTS: 2}
    assert shown["other"].scenario.hubs["reading"].staff.headcount == 2
    assert shown["base"].scenario.hubs["reading"].staff.headcount == 4
    breach = at.table[1].value  # after the table of changed inputs
    assert list(breach["Hub"]) == ["All hubs", "Reading", "Slough"]
    assert breach.iloc[2]["SD over 72 h: change [95 % CI]"] == "0.0 pts [0.0 to 0.0]"
    assert breach.iloc[1]["SD over 72 h: change [95 % CI]"].startswith("+")


def test_page_shows_an_invalid_what_if_with_its_key_path(page) -> None:
    _by_label(page.number_input, "Reading: vacant posts").set_value(9).run()
    assert "what-if: hubs.reading.staff: vacancies (9) exceed headcount (4)" in \
        page.code[0].value
    assert _by_label(page.button, "Run what-if").disabled


def test_page_returns_to_a_setting_already_run_from_the_cache(page) -> None:
    _run_until_results(page)
    first = page.session_state["shown"]["other"]
    _by_label(page.number_input, "Reading: posts").set_value(5).run()
    _run_until_results(page)
    _by_label(page.number_input, "Reading: posts").set_value(4).run()
    _by_label(page.button, "Run what-if").click().run()
    assert page.session_state["active"] is None  # finished on the click: no process ran
    assert page.session_state["shown"]["other"] is first


def test_plan_tab_says_there_is_no_hourly_cost_and_plans_posts(page) -> None:
    assert any("gives no hourly costs" in i.value for i in page.info)
    _by_label(page.button, "Find least posts").click().run()
    job = page.session_state["plan"]
    assert job.wait(120) == "done"
    page.run()
    plan = next(t.value for t in page.table if "Posts needed" in t.value.columns)
    assert list(plan["Hub"]) == ["Reading", "Slough"]


def test_plan_table_shows_roles_and_cost() -> None:
    """On a roles scenario with hourly costs the Plan tab's table names the role and gives
    the cost now and at the answer (from the plan's `staff_hours_cost`)."""
    from mashsim.app.loading import plan_table
    from mashsim.experiment.plan import plan
    from mashsim.validation import tandem_scenario

    sc = tandem_scenario(arrival_rate_per_hour=2.0, stages=[("research", 1.0, 3),
                         ("decision", 1.5, 2)], horizon_hours=500.0, warmup_hours=50.0)
    sc = sc.with_overrides({"hubs.tandem.roles.research.hourly_cost": 20.0})
    frame = plan(sc, ["stage_wait_over_1h_research<=0.3"], hubs=["tandem.research"],
                 replications=3, seed=1, workers=1)
    table = plan_table(sc, frame)
    row = table.iloc[0]
    assert row["Role"] == "research"
    now = float(row["Cost now (£)"].replace(",", ""))
    assert now == pytest.approx(frame["staff_hours_cost_now_mean"].iloc[0], abs=0.5)
    assert "Cost needed (£)" in table.columns


def test_utilisation_table_has_a_row_per_role() -> None:
    """A scenario described by roles shows each role's utilisation per hub, paired."""
    from mashsim import simulate
    from mashsim.validation import tandem_scenario

    sc = tandem_scenario(arrival_rate_per_hour=2.0, stages=[("research", 1.0, 3),
                         ("decision", 1.5, 2)], horizon_hours=400.0, warmup_hours=40.0)
    other = sc.with_overrides({"hubs.tandem.roles.research.headcount": 4})
    diffs = cmp.comparison(simulate(sc, replications=3, seed=1),
                           simulate(other, replications=3, seed=1))
    table = cmp.utilisation_table(sc, diffs)
    assert sorted(set(table["Role"])) == ["decision", "research"]
    assert len(table) == 4  # all hubs and the one hub, two roles each
