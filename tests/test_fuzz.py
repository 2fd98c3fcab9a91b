"""A fuzzer over the shipped scenarios: whatever a file says, `mashsim run` ends cleanly.

Each example takes a shipped scenario (shortened so a run costs a fraction of a second),
mutates one to three of its values — extremes, wrong types, hostile text, deleted or
unknown keys — and runs the CLI in-process. The promise checked: exit 0 with sane numbers
(finite or null, counts ≥ 0, fractions in 0–1, arrived = completed + open), or exit 2 with
one `mashsim: error:` line per problem and no traceback. Nothing else.

`MASHSIM_FUZZ_EXAMPLES` sets the number of examples (CI uses the default; a long run sets
thousands).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import os
import signal
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mashsim import cli
from mashsim.metrics.compute import metric_bounds

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted(p for p in (ROOT / "scenarios").rglob("*.toml"))
EXAMPLES = int(os.environ.get("MASHSIM_FUZZ_EXAMPLES", "60"))
CASE_LIMIT_SECONDS = 60

Path_ = tuple[str | int, ...]


def _shortened(path: Path) -> dict[str, Any]:
    """The scenario as a dict, run for four weeks (around its audit date, if it has one)."""
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    run = doc.setdefault("run", {})
    audit = doc.get("reporting", {}).get("audit_date")
    if isinstance(audit, dt.date):
        run["start_date"] = audit - dt.timedelta(days=14)
    run["duration_days"] = 28
    run["warmup_days"] = min(run.get("warmup_days", 0), 7)
    return doc


BASES = {p.relative_to(ROOT).as_posix(): _shortened(p) for p in SCENARIOS}


def _leaves(node: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every key path in a TOML document, containers included (so whole tables get replaced)."""
    paths: list[Path_] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            paths += _leaves(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            paths += _leaves(value, (*prefix, i))
    return paths


HOSTILE_TEXT = [
    "", " ", "a\n", "oxfordshire\n", "=HYPERLINK(\"http://x\",\"y\")", "+1+1", "@SUM(A1)",
    "\x1b[2J\x1b[H", "$x^2$", "$", "\\", "<script>alert(1)</script>", "é" * 3, "\u202e", "\x00",
    "09:00", "25:00", "17:00", "2025-13-01", "Mon", "Funday", "fifo", "risk", "x" * 300,
]
NUMBERS = [0, -1, 1, 2, 7, 24, 100, 10**6, 10**9, 2**31, 2**63 - 1, -(2**63),
           0.0, -0.0, 0.5, 1e-300, 1e300, 1e9, math.inf, -math.inf, math.nan, 1.5, 23.99]
OTHER = [True, False, [], [0], [1.0] * 7, [1.0] * 24, {}, {"x": 1},
         dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2025, 2, 28), dt.date(2024, 2, 29),
         dt.datetime(2025, 4, 7, 9, 0), dt.time(9, 0)]

values = st.one_of(st.sampled_from(HOSTILE_TEXT), st.sampled_from(NUMBERS), st.sampled_from(OTHER),
                   st.text(max_size=12), st.integers(-10**12, 10**12),
                   st.floats(allow_nan=True, allow_infinity=True))


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(BASES)))
    doc = json.loads(json.dumps(BASES[name], default=str))  # deep copy; dates come back below
    doc = _restore_dates(doc, BASES[name])
    plausible = draw(st.booleans())  # half the examples are what-ifs that should run
    for _ in range(draw(st.integers(1, 3))):
        paths = _leaves(doc)
        if plausible:
            numbers = [p for p in paths if _is_number(_get(doc, p))]
            if not numbers:
                break
            target = draw(st.sampled_from(numbers))
            parent, key = _get(doc, target[:-1]), target[-1]
            scaled = parent[key] * draw(st.sampled_from([0, 0.1, 0.5, 1.5, 2, 5]))
            parent[key] = round(scaled) if isinstance(parent[key], int) else scaled
            continue
        target = draw(st.sampled_from(paths))
        parent = _get(doc, target[:-1])
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        key = target[-1]
        if action == "delete" and isinstance(parent, dict):
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "headcout", "shift", "staf", "x\n"]))] = 1
        else:
            parent[key] = draw(values)
    return name, doc


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _restore_dates(copy: Any, original: Any) -> Any:
    """json round trip turned dates into strings; put the originals back."""
    if isinstance(original, dict):
        return {k: _restore_dates(copy[k], v) for k, v in original.items()}
    if isinstance(original, list):
        return [_restore_dates(c, o) for c, o in zip(copy, original, strict=True)]
    return original


def _get(doc: Any, path: Path_) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _write(doc: dict[str, Any], folder: Path) -> Path | None:
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):
        return None  # not expressible in TOML (e.g. None); nothing to test
    path = folder / "fuzzed.toml"
    path.write_text(text, encoding="utf-8")
    return path


class _Hung(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Hung(f"run took over {CASE_LIMIT_SECONDS} s")


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """`mashsim ARGS` in this process: exit status, stdout, stderr. Any exception propagates."""
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_LIMIT_SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = cli.main(args)
            except SystemExit as exc:  # argparse
                status = exc.code if isinstance(exc.code, int) else 2
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return status, out.getvalue(), err.getvalue()


def check_summary(summary: dict[str, Any]) -> None:
    """No absurd output: finite or null numbers in range; conservation of referrals."""
    scopes = {"overall": summary["metrics"],
              **{h: v["metrics"] for h, v in summary["hubs"].items()}}
    for scope, metrics in scopes.items():
        for name, ci in metrics.items():
            low, high = metric_bounds(name)
            for part in ("mean", "ci_low", "ci_high"):
                value = ci[part]
                if value is None:
                    continue
                assert math.isfinite(value), (scope, name, part, value)
                assert low - 1e-9 <= value <= high + 1e-9, (scope, name, part, value)
        arrived = metrics["referrals_arrived"]["mean"]
        done = metrics["referrals_completed"]["mean"]
        still_open = metrics["referrals_open_at_end"]["mean"]
        assert arrived == pytest.approx(done + still_open, abs=1e-6), scope


def check_clean_end(status: int, stdout: str, stderr: str) -> None:
    assert "Traceback" not in stderr
    assert status in (0, 2), (status, stderr[-2000:])
    if status == 2:
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert lines, "exit 2 with no message"
        problems = [line for line in lines if line.startswith("mashsim: error:")]
        assert problems, stderr[-2000:]
        for line in problems:
            assert "\x1b" not in line, "terminal escape reached stderr"
    else:
        check_summary(json.loads(stdout))


@pytest.mark.parametrize("name", sorted(BASES))
def test_shortened_shipped_scenarios_run(name: str, tmp_path: Path) -> None:
    """The fuzzer's starting points are valid, so a mutation is what any failure is about."""
    path = _write(BASES[name], tmp_path)
    assert path is not None
    status, stdout, stderr = run_cli(["run", str(path), "--replications", "2",
                                      "--workers", "1", "--format", "json"])
    assert status == 0, stderr
    check_summary(json.loads(stdout))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=mutated_scenarios())
def test_mutated_scenarios_end_cleanly(case: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    _, doc = case
    path = _write(doc, tmp_path)
    if path is None:
        return
    try:
        status, stdout, stderr = run_cli(["run", str(path), "--replications", "2",
                                          "--workers", "1", "--format", "json"])
    except _Hung as hung:  # a refusal should have come first
        pytest.fail(f"{hung}: {tomli_w.dumps(doc)[:3000]}")
    event(f"exit {status}")  # --hypothesis-show-statistics: how many ran, how many refused
    check_clean_end(status, stdout, stderr)


@settings(max_examples=max(EXAMPLES // 2, 10), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(["hubs.mmc.staff.headcount", "arrivals.referrals_per_day",
                            "queue.discipline", "run.warmup_days", "hubs.mmc.demand_share",
                            "name", "staffing.overtime.weekly_cap_hours", "nonsense.key"]),
       value=st.one_of(st.sampled_from([*HOSTILE_TEXT, "inf", "nan", "1e300", "2**63", "-1",
                                        "[1, 2]", "{a = 1}", "true"]),
                       st.text(max_size=10)),
       sep=st.sampled_from(["=", " ", ""]))
def test_fuzzed_overrides_end_cleanly(key: str, value: str, sep: str) -> None:
    """`--set` text is fuzzed too: the same promise holds for the command line."""
    mmc = str(ROOT / "scenarios/validation/mmc.toml")
    status, stdout, stderr = run_cli(["run", mmc, "--replications", "2", "--workers", "1",
                                      "--format", "json", "--set", "run.duration_days=10",
                                      "--set", "run.warmup_days=1", "--set", f"{key}{sep}{value}"])
    check_clean_end(status, stdout, stderr)
