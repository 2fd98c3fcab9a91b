"""The README and docs are executable documentation: examples run, references are complete."""

from __future__ import annotations

import inspect
import math
import os
import re
import subprocess
from pathlib import Path

import pytest
from pydantic import BaseModel

from mashsim.metrics.registry import REGISTRY, metric_info
from mashsim.scenario.schema import Scenario

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
# The scenario and metric references live in the docs' reference part (docs/reference/).
SCENARIO_REFERENCE = (ROOT / "docs" / "reference" / "scenario.md").read_text(encoding="utf-8")
METRIC_REFERENCE = (ROOT / "docs" / "reference" / "metrics.md").read_text(encoding="utf-8")
PYTHON_HOWTO = (ROOT / "docs" / "how-to" / "python.md").read_text(encoding="utf-8")
# The pages whose examples a reader runs from a clone: they must write only under scratch/.
EXAMPLE_PAGES = ["README.md", "docs/tutorial/index.md", "docs/how-to/run.md", "docs/planning.md",
                 "docs/calibration.md", "docs/reporting.md",
                 "docs/how-to/python.md"]


def _fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every scenario key as a dotted path (dict-valued tables by their value type)."""
    out = set()
    for name, info in model.model_fields.items():
        key = info.alias or name
        path = f"{prefix}{key}"
        out.add(path)
        for arg in (*getattr(info.annotation, "__args__", ()), info.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and "dist" not in \
                    arg.model_fields:
                out |= _fields(arg, f"{path}.")
    return out


def test_every_scenario_key_is_in_the_reference() -> None:
    def documented(path: str) -> bool:  # its name inside a `code span` of the reference
        leaf = re.escape(path.rsplit(".", 1)[-1])
        return re.search(rf"`[^`]*\b{leaf}\b[^`]*`", SCENARIO_REFERENCE) is not None

    missing = sorted(p for p in _fields(Scenario) if not documented(p))
    assert not missing, f"keys missing from docs/reference/scenario.md: {missing}"


def _metric_reference() -> dict[str, str]:
    """The metric reference's table: every name in a row's first cell → that row's unit."""
    section = METRIC_REFERENCE
    table = {}
    for names, unit in re.findall(r"^\| ((?:`[^`]+`(?:, )?)+) \| ([^|]+) \|", section, re.M):
        for name in re.findall(r"`([^`]+)`", names):
            table[name] = unit.strip()
    return table


@pytest.mark.parametrize("metric", REGISTRY.documented_names())
def test_every_metric_is_in_the_reference(metric: str) -> None:
    """Each registry metric (a scenario-dependent family by its pattern) has a row in the
    metric reference (docs/reference/metrics.md) with the unit of its kind."""
    reference = _metric_reference()
    assert metric in reference, f"{metric} is missing from docs/reference/metrics.md"
    assert reference[metric] == metric_info(metric).unit, metric


def test_the_reference_documents_only_registered_metrics() -> None:
    extra = set(_metric_reference()) - set(REGISTRY.documented_names())
    assert not extra, f"docs/reference/metrics.md has metrics the registry lacks: {sorted(extra)}"


def test_quick_start_has_exactly_two_commands() -> None:
    section = re.search(r"^## Quick start$(.*?)^## ", README, re.S | re.M).group(1)
    commands = [line for block in re.findall(r"```bash\n(.*?)```", section, re.S)
                for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2
    assert "mashsim run" in commands[0] and "pytest" in commands[1]
    # CI's last command is exactly the README's test command; before it, the docs build.
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert ci_lines[-1] == commands[1].strip()
    docs = [line for line in ci_lines if "mkdocs build" in line]
    assert len(docs) == 1 and "--strict" in docs[0] and "--quiet" not in docs[0]


def _erlang_c_by_hand(a: float, c: int) -> float:
    """P(wait) for M/M/c with offered load a (textbook sum form, independent of mashsim)."""
    tail = a**c / math.factorial(c) * c / (c - a)
    return tail / (sum(a**k / math.factorial(k) for k in range(c)) + tail)


def test_python_api_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    block = re.search(r"```python\n(.*?)```", PYTHON_HOWTO, re.S).group(1)
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "docs/how-to/python.md", "exec"), namespace)
    assert os.path.exists("scratch/my_what_if.toml")
    assert namespace["res"].summary()["replications"] == 20
    # The Erlang C figures are numbers (not bound methods) and agree with the textbook.
    p_wait = _erlang_c_by_hand(9.0, 10)  # λ = 9/h, μ = 1/h, c = 10: cμ − λ = 1/h
    expected = {"p_wait": p_wait, "mean_wait_hours": p_wait / 1.0,
                "p_wait_over_1h": p_wait * math.exp(-1.0)}
    for name, value in expected.items():
        assert isinstance(namespace[name], float), f"{name} is {type(namespace[name])}"
        assert namespace[name] == pytest.approx(value, rel=1e-9)
    printed = [float(x) for x in re.findall(r"\d+\.\d+", capsys.readouterr().out)]
    assert printed == pytest.approx(list(expected.values()), abs=5e-4)
    leaked = sorted(k for k, v in namespace.items() if inspect.ismethod(v))
    assert not leaked, f"the example binds methods where numbers were meant: {leaked}"


def _bash_commands(text: str) -> list[str]:
    """Command lines (mashsim or python, continuations joined) of the shell blocks, comments
    dropped; a block of printed output holds no such line."""
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", text, re.S)
    lines = [line.split("#", 1)[0] for block in blocks
             for line in block.replace("\\\n", " ").splitlines()]
    return [line for line in lines
            if line.strip().startswith(("mashsim ", "python", ".venv/bin/"))]


@pytest.mark.parametrize("page", EXAMPLE_PAGES)
def test_examples_write_only_under_scratch(page: str) -> None:
    """Running a page's examples in a clone leaves nothing untracked at the top level."""
    text = (ROOT / page).read_text(encoding="utf-8")
    outputs = [m for cmd in _bash_commands(text)
               for m in re.findall(r"(?:--out|--report|>)\s+(\S+)", cmd)]
    outputs += re.findall(r"\.(?:to_toml|savefig)\(\"([^\"]+)\"", text)
    assert outputs, f"no example in {page} writes a file: the pattern above is out of date"
    outside = [path for path in outputs if not path.startswith("scratch/")]
    assert not outside, f"{page} examples write outside scratch/: {outside}"
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "scratch/" in ignored


def _tracked_files() -> list[Path]:
    """Files under version control (every file but caches, if this is not a git checkout)."""
    try:
        names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                               check=True).stdout.decode().split("\0")
        return [ROOT / n for n in names if n]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}
        return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.parts)]


def test_no_file_points_outside_the_repository() -> None:
    """A clone must be able to follow every reference: the design notes live in docs/."""
    outside = ["../" + "shared", "DOMAIN" + ".md"]  # split so this file does not match itself
    bad = []
    for path in _tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        bad += [f"{path.relative_to(ROOT)}: {word}" for word in outside if word in text]
    assert not bad


@pytest.mark.parametrize("doc", ["README.md", *sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))])
def test_local_links_resolve(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t and not t.startswith("mailto:")]
    missing = [t for t in local if not ((ROOT / doc).parent / t).exists()]
    assert not missing, f"{doc} links to missing files: {missing}"
