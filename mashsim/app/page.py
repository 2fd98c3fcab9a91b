"""The what-if page (a Streamlit script: `mashsim app` runs it; tests use AppTest).

Streamlit runs this file top to bottom on every interaction. Simulations never run here:
they run in worker processes (`jobs`), and a fragment polls them twice a second, so the
page stays responsive and a run can be cancelled. Text from a scenario is shown as data:
escaped where Streamlit would read Markdown, and never as HTML.
"""

from __future__ import annotations

import base64
import html
import os
import time
from typing import Any

import streamlit as st

from mashsim.app import SCENARIO_ENV
from mashsim.app import compare as cmp
from mashsim.app.jobs import JobManager, default_workers, plan_job, report_job, simulate_job
from mashsim.app.loading import load_upload, markdown_text, plan_table, shipped_scenarios
from mashsim.app.whatif import (
    DEFAULT_REPLICATIONS,
    Control,
    RunSettings,
    changes,
    controls,
    horizon_options,
    run_scenario,
    scenario_token,
    what_if,
)
from mashsim.errors import InputError
from mashsim.report.plots import to_png
from mashsim.scenario import Scenario, load_scenario

POLL_S = 0.5
HUBS_PER_ROW = 2
ss = st.session_state


@st.cache_resource
def manager() -> JobManager:
    """One job manager (and results cache) for the whole server, shared by sessions."""
    return JobManager()


def show_problems(title: str, problems: list[str]) -> None:
    st.error(title)
    st.code("\n".join(problems), language=None, wrap_lines=True)


def figure_html(fig: Any, alt: str) -> None:
    """A figure as an inline PNG with alt text (no file server, no external request)."""
    data = base64.b64encode(to_png(fig, dpi=90)).decode()
    st.markdown(f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
                f'style="max-width:100%;height:auto">', unsafe_allow_html=True)


# -- the scenario --------------------------------------------------------------------


def choose_scenario() -> Scenario | None:
    st.sidebar.header("Scenario")
    source = st.sidebar.radio("Scenario source", ["Shipped scenario", "Upload a TOML file"])
    if source == "Shipped scenario":
        options = shipped_scenarios(os.environ.get(SCENARIO_ENV) or None)
        name = st.sidebar.selectbox("Shipped scenario", list(options))
        try:
            return load_scenario(options[name])
        except InputError as err:
            show_problems("This scenario could not be loaded:", err.problems)
            return None
    upload = st.sidebar.file_uploader("Scenario TOML file", type=["toml"])
    if upload is None:
        st.info("Choose a scenario TOML file in the sidebar (a downloaded what-if works).")
        return None
    try:
        return load_upload(upload.name, upload.getvalue())
    except InputError as err:
        show_problems(f"The uploaded file has {len(err.problems)} problem(s), each with its "
                      "key path; nothing was loaded:", err.problems)
        return None


def run_settings(sc: Scenario) -> RunSettings:
    st.sidebar.header("Run")
    reps = st.sidebar.number_input("Replications", min_value=2, max_value=500,
                                   value=DEFAULT_REPLICATIONS, step=1,
                                   help="more replications: narrower CIs, longer runs")
    horizons = horizon_options(sc)
    horizon = st.sidebar.selectbox("Horizon", list(horizons))
    seed = st.sidebar.number_input("Seed", min_value=0, max_value=2**31 - 1, value=1, step=1)
    return RunSettings(replications=int(reps), seed=int(seed),
                       duration_days=horizons[horizon])


# -- controls ------------------------------------------------------------------------


def widget(c: Control, token: str) -> Any:
    """Draw one control; its key carries the scenario's token so a new scenario resets it."""
    key = f"{token}:{c.key}"
    label = c.label.replace(c.subject, markdown_text(c.subject), 1) if c.subject else c.label
    if c.kind == "choice":
        return st.selectbox(label, c.options, index=c.options.index(c.value), key=key,
                            help=c.help)
    if c.kind == "int":
        return int(st.number_input(label, min_value=int(c.minimum or 0),
                                   max_value=int(c.maximum or 0), value=int(c.value), step=1,
                                   key=key, help=c.help))
    if c.kind == "optional_float":
        value = st.number_input(label, min_value=c.minimum, max_value=c.maximum, value=c.value,
                                step=c.step, key=key, help=c.help, placeholder="no cap")
        return None if value is None else float(value)
    return float(st.number_input(label, min_value=c.minimum, max_value=c.maximum,
                                 value=float(c.value), step=c.step, key=key, help=c.help))


def draw_controls(sc: Scenario, token: str) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    cs = controls(sc)
    with st.expander("Posts and vacancies by hub", expanded=True):
        per_hub = _by_hub(cs, sc)
        if all(len({c.subject for c in h}) <= 1 for h in per_hub):
            for first in range(0, len(per_hub), HUBS_PER_ROW):  # two hubs a row: a laptop
                row = [c for hub_controls in per_hub[first:first + HUBS_PER_ROW]
                       for c in hub_controls]
                for col, c in zip(st.columns(max(len(row), 4)), row, strict=False):
                    with col:
                        chosen[c.key] = widget(c, token)
        else:  # roles: a hub a row, a column a role (its posts above its vacant posts)
            for hub_controls in per_hub:
                subjects = list(dict.fromkeys(c.subject for c in hub_controls))
                for col, subject in zip(st.columns(max(len(subjects), 3)), subjects,
                                        strict=False):
                    with col:
                        for c in hub_controls:
                            if c.subject == subject:
                                chosen[c.key] = widget(c, token)
    with st.expander("Process and demand", expanded=True):
        cols = st.columns(3)
        for i, c in enumerate(c for c in cs if c.group == "process"):
            with cols[i % 3]:
                chosen[c.key] = widget(c, token)
    return chosen


def _by_hub(cs: list[Control], sc: Scenario) -> list[list[Control]]:
    """Each hub's controls (posts, vacancies) on one row."""
    return [[c for c in cs if c.key.startswith(f"hubs.{hub}.")] for hub in sc.hub_names]


# -- running -------------------------------------------------------------------------


def start_run(base: Scenario, other: Scenario, settings: RunSettings,
              delta: dict[str, Any]) -> None:
    jobs = {}
    for name, sc in (("base", base), ("other", other)):
        key = ("simulate", scenario_token(sc), settings.replications, settings.seed)
        jobs[name] = manager().submit(key, simulate_job, (sc, settings.replications,
                                                          settings.seed, default_workers()),
                                      total=settings.replications)
    ss["active"] = {**jobs, "changes": delta, "settings": settings, "scenario": other,
                    "clicked_s": time.monotonic()}


def finish_run() -> None:
    """Move a finished run to the results (or its problems to the page)."""
    active = ss.get("active")
    if active is None:
        return
    jobs = (active["base"], active["other"])
    states = {j.poll() for j in jobs}
    if "running" in states:
        return
    ss["active"] = None
    if states == {"done"}:
        ss["runs"] = ss.get("runs", 0) + 1
        elapsed = max(j.finished_s or 0.0 for j in jobs) - active["clicked_s"]
        ss["shown"] = {"base": jobs[0].result, "other": jobs[1].result,
                       "changes": active["changes"], "elapsed_s": elapsed,
                       "settings": active["settings"]}
        ss.pop("report", None)
    elif "failed" in states:
        ss["run_problems"] = [p for j in jobs for p in j.problems]
    else:
        ss["run_note"] = "The run was cancelled; nothing changed."


def cancel_active() -> None:
    active = ss.get("active")
    if active:
        for name in ("base", "other"):
            active[name].cancel()


@st.fragment(run_every=POLL_S)
def run_progress() -> None:
    active = ss.get("active")
    if active is None:
        return
    jobs = [active["base"], active["other"]]
    for j in jobs:
        j.poll()
    if not any(j.running for j in jobs):
        st.rerun()
    total = sum(j.total or 0 for j in jobs if j.total is not None)
    done = sum(min(j.done, j.total or 0) if j.running else (j.total or 0) for j in jobs)
    st.progress(min(1.0, done / max(total, 1)),
                text=f"Running: {done} of {total} replications (baseline and what-if)")
    st.button("Cancel run", on_click=cancel_active)


def results_section() -> None:
    shown = ss.get("shown")
    if shown is None:
        st.info("Change what you want to try above, then press **Run what-if**. The first "
                "run compares the baseline with itself.")
        return
    base, other = shown["base"], shown["other"]
    sc = base.scenario
    diffs = cmp.comparison(base, other)
    st.subheader("Results: what-if against the baseline")
    st.caption(f"Run {ss.get('runs', 1)}: {other.replications} replications, seed "
               f"{other.seed}, the same random numbers for both (paired 95 % CIs: a change "
               f"whose CI excludes 0 is real). "
               f"Click to result: {max(0.0, shown['elapsed_s']):.1f} s (settings already "
               f"run come from the cache).")
    if shown["changes"]:
        st.table([{"Input": k, "Baseline": str(_baseline_value(sc, k)), "What-if": str(v)}
                  for k, v in shown["changes"].items()])
    else:
        st.caption("No input changed: the what-if is the baseline.")
    cols = st.columns(4)
    for col, h in zip(cols, cmp.headline(diffs), strict=True):
        moved = not h["change"].startswith("0.0")  # no arrow for "no change"
        col.metric(h["label"], h["value"], delta=h["change"] if moved else None,
                   delta_color="inverse",
                   help=f"{h['metric']}, all hubs: what-if mean; change vs baseline [95 % CI]")
    st.markdown("#### Breaches by hub")
    figure_html(cmp.breach_figure(sc, diffs),
                "Bar chart of the decision-target and 72-hour strategy-discussion breach "
                "rates by hub, baseline and what-if, with 95 % CIs; the table below gives "
                "the numbers.")
    st.table(cmp.breach_table(sc, diffs))
    st.markdown("#### Backlog")
    hub = st.selectbox("Backlog for", ["all hubs", *sc.hub_names],
                       format_func=lambda h: h if h == "all hubs" else sc.hub_display_label(h))
    figure_html(cmp.backlog_figure(base, other, None if hub == "all hubs" else hub),
                "Line chart of the backlog at the end of each day with 95 % CI bands, "
                "baseline and what-if.")
    st.markdown("#### Waits for staff by risk grade (hours)")
    st.table(cmp.waits_table(diffs))
    st.markdown("#### Utilisation by role")
    st.table(cmp.utilisation_table(sc, diffs))


def _baseline_value(sc: Scenario, key: str) -> Any:
    node: Any = sc.to_dict()
    for part in key.split("."):
        try:
            node = node[int(part)] if isinstance(node, list) else node.get(part)
        except (IndexError, ValueError, AttributeError):
            return None
    return node


# -- plan ----------------------------------------------------------------------------


def plan_tab(sc: Scenario | None, settings: RunSettings) -> None:
    st.markdown("Least posts per hub meeting every target with 95 % confidence, with the "
                "other inputs as set on the What-if tab.")
    if sc is None:
        return
    st.info("Costs: rostered and overtime cost over the run (£), from each role's hourly "
            "cost." if sc.costed else "Costs: this scenario gives no hourly costs, so the plan "
            "shows posts and rostered staff-hours, not money.")
    text = st.text_area("Targets, one per line (METRIC<=VALUE)", "sd_breach_72h<=0.05")
    hubs = st.multiselect("Hubs to plan", sc.hub_names, default=sc.hub_names,
                          format_func=sc.hub_display_label)
    reps = st.number_input("Replications per headcount tried", min_value=2, max_value=200,
                           value=10, step=1)
    targets = [t.strip() for t in text.splitlines() if t.strip()]
    if st.button("Find least posts", disabled=not (targets and hubs)):
        key = ("plan", scenario_token(sc), tuple(targets), tuple(hubs), int(reps),
               settings.seed)
        ss["plan"] = manager().submit(key, plan_job, (sc, targets, hubs, int(reps),
                                                      settings.seed, default_workers()))
    plan_result(sc)


@st.fragment(run_every=POLL_S)
def plan_progress() -> None:
    job = ss.get("plan")
    if job is None or job.poll() != "running":
        st.rerun()
    st.progress(0.0, text=f"Planning: {job.done} replications run so far")
    st.button("Cancel plan", on_click=job.cancel)


def plan_result(sc: Scenario) -> None:
    job = ss.get("plan")
    if job is None:
        return
    state = job.poll()
    if state == "running":
        plan_progress()
    elif state == "failed":
        show_problems("The plan could not run:", job.problems)
    elif state == "cancelled":
        st.caption("The plan was cancelled.")
    else:
        frame = job.result
        st.table(plan_table(sc, frame))
        for w in frame.attrs.get("plan", {}).get("warnings", []):
            st.warning(markdown_text(w["message"]))


# -- downloads -----------------------------------------------------------------------


def downloads_tab(other: Scenario | None) -> None:
    if other is None:
        st.caption("Load a valid scenario first.")
        return
    st.download_button("Download the what-if scenario (TOML)", cmp.scenario_toml(other),
                       file_name="what_if.toml", mime="application/toml")
    shown = ss.get("shown")
    if shown is None:
        st.caption("Run the what-if to download its results and report.")
        return
    st.download_button("Download results (CSV)", cmp.results_csv(shown["other"]),
                       file_name="what_if_summary.csv", mime="text/csv")
    st.download_button("Download the comparison (CSV)",
                       cmp.comparison(shown["base"], shown["other"]).to_csv(index=False),
                       file_name="what_if_comparison.csv", mime="text/csv")
    report = ss.get("report")
    if report is None:
        if st.button("Prepare the HTML report"):
            key = ("report", scenario_token(shown["base"].scenario),
                   scenario_token(shown["other"].scenario), shown["other"].replications,
                   shown["other"].seed)
            ss["report"] = manager().submit(key, report_job, (shown["base"], shown["other"]))
            st.rerun()
        return
    if report.poll() == "running":
        report_progress()
    elif report.state == "done":
        st.download_button("Download the HTML report", report.result,
                           file_name="what_if_report.html", mime="text/html")
    else:
        show_problems("The report could not be built:", report.problems or ["cancelled"])


@st.fragment(run_every=POLL_S)
def report_progress() -> None:
    job = ss.get("report")
    if job is None or job.poll() != "running":
        st.rerun()
    st.progress(0.5, text="Preparing the report…")


# -- the page ------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="mashsim what-if", layout="wide")
    st.title("MASH staffing: what if?")
    sc = choose_scenario()
    if sc is None:
        return
    settings = run_settings(sc)
    token = scenario_token(sc)
    if ss.get("token") != token:  # a new scenario: earlier results are not its results
        ss.update(token=token, active=None, shown=None, plan=None, report=None)
    st.caption(f"{markdown_text(sc.display_label)}: {len(sc.hubs)} hubs, "
               f"{sc.run.duration_days:g} days from {sc.run.start_date}.")
    finish_run()
    whatif_tab, plan, downloads = st.tabs(["What-if", "Plan", "Downloads"])
    other: Scenario | None = None
    with whatif_tab:
        chosen = draw_controls(sc, token)
        try:
            base = run_scenario(sc, settings)
            other = what_if(sc, chosen, settings)
        except InputError as err:
            show_problems("These settings are not a valid scenario:", err.problems)
        pending = changes(sc, chosen)
        st.caption("Changes from the baseline: " + (", ".join(
            f"{markdown_text(k)} = {markdown_text(str(v))}" for k, v in pending.items())
            if pending else "none yet (the what-if equals the baseline)"))
        running = ss.get("active") is not None
        if st.button("Run what-if", type="primary", disabled=other is None or running):
            ss.pop("run_problems", None)
            ss.pop("run_note", None)
            assert other is not None  # the button is disabled otherwise
            start_run(base, other, settings, pending)
            st.rerun()  # draw the page again with Run disabled while it runs
        if running:
            run_progress()
        if ss.get("run_problems"):
            show_problems("The run failed:", ss["run_problems"])
        if ss.get("run_note"):
            st.caption(ss["run_note"])
        results_section()
    with plan:
        plan_tab(other, settings)
    with downloads:
        downloads_tab(other)


if __name__ == "__main__":  # Streamlit runs the page as __main__; worker processes
    main()  # that import it (as __mp_main__) must not draw it
