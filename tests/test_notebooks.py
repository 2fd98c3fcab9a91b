"""The notebooks run end to end (on a short horizon), so they never rot."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["what_if.ipynb", "staffing_plan.ipynb"]
HAVE_WIDGETS = importlib.util.find_spec("ipywidgets") is not None

# Appended to what_if.ipynb by the test: a what-if that sets a value to what the baseline
# already has (27 days' leave, say) compares the baseline with itself and tells a false story.
NO_EMPTY_WHAT_IF = '''
def _at(data, path):
    for key in path.split("."):
        data = data[int(key)] if isinstance(data, list) else data[key]
    return data

_base = base.model_dump(mode="json", by_alias=True)
_unchanged = [(name, path) for name, overrides in what_ifs.items() for path in overrides
              if _at(scenarios[name].model_dump(mode="json", by_alias=True), path)
              == _at(_base, path)]
assert not _unchanged, f"what-ifs that restate the baseline: {_unchanged}"
'''


def _execute(name: str, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> nbformat.NotebookNode:
    monkeypatch.setenv("MASHSIM_NOTEBOOK_QUICK", "1")  # the kernel inherits it
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    if extra:
        nb.cells.append(nbformat.v4.new_code_cell(extra))
    client = NotebookClient(nb, timeout=180, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on failure
    return nb


def _outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [out for cell in nb.cells if cell.cell_type == "code"
            for out in cell.get("outputs", [])]


def _widget_models(nb: nbformat.NotebookNode) -> list[dict]:
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return list(state.get("state", {}).values())


def _shows_progress(nb: nbformat.NotebookNode) -> bool:
    """A tqdm bar: a progress widget, or its text form (`12%|█▎  | 3/24`) on a stream."""
    if any(m["model_name"] in ("FloatProgressModel", "IntProgressModel")
           for m in _widget_models(nb)):
        return True
    return any("|" in out.get("text", "") and "rep" in out.get("text", "")
               for out in _outputs(nb) if out.get("output_type") == "stream")


@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = NO_EMPTY_WHAT_IF if name == "what_if.ipynb" else ""
    nb = _execute(name, monkeypatch, extra)
    outputs = _outputs(nb)
    images = sum("image/png" in out.get("data", {}) for out in outputs)
    assert images >= 2, "figures did not display"
    errors = [out for out in outputs if out.get("output_type") == "error"]
    assert not errors
    assert _shows_progress(nb), "long runs must show a progress bar"
    if name == "what_if.ipynb" and HAVE_WIDGETS:
        models = _widget_models(nb)
        sliders = [m["state"] for m in models if m["model_name"] == "IntSliderModel"]
        assert sliders and all(not s["continuous_update"] for s in sliders), \
            "a slider must run on release, not on every drag step"
        assert any(m["model_name"] == "ButtonModel" for m in models)
        assert any(m["model_name"] == "DropdownModel" and "reading" in m["state"]["_options_labels"]
                   for m in models), "the user picks the hub"


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_saved_without_heavy_outputs(name: str) -> None:
    """Committed notebooks stay small and diffable: outputs are cleared before saving."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")
    assert (NOTEBOOKS / name).stat().st_size < 50_000
