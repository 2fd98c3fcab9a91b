"""The README is executable documentation: its examples run and its references are complete."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from mashsim.metrics import METRICS
from mashsim.scenario import Scenario

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


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
    def documented(path: str) -> bool:  # its name inside a `code span` of the README
        leaf = re.escape(path.rsplit(".", 1)[-1])
        return re.search(rf"`[^`]*\b{leaf}\b[^`]*`", README) is not None

    missing = sorted(p for p in _fields(Scenario) if not documented(p))
    assert not missing, f"keys missing from the README's scenario reference: {missing}"


@pytest.mark.parametrize("metric", METRICS)
def test_every_metric_is_in_the_reference(metric: str) -> None:
    assert f"`{metric}`" in README


def test_quick_start_has_exactly_two_commands() -> None:
    section = re.search(r"^## Quick start$(.*?)^## ", README, re.S | re.M).group(1)
    commands = [line for block in re.findall(r"```bash\n(.*?)```", section, re.S)
                for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2
    assert "mashsim run" in commands[0] and "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci  # CI runs exactly the README's test command


def test_python_api_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"### Python API.*?```python\n(.*?)```", README, re.S).group(1)
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert os.path.exists("my_what_if.toml")
    assert namespace["res"].summary()["replications"] == 20
    assert namespace["p_wait"] == pytest.approx(0.6687, abs=1e-3)
