"""The package face is honest: every `__all__` matches the API reference, name for name.

As simpy asserts its table of contents against `simpy.__all__`: a public name that the
reference does not list, or a listed name the package no longer offers, fails here. The
reference pages name each object in a mkdocstrings directive (`::: mashsim.layer.name`);
a directive naming a whole module (a page's introduction, a "Modules" section) is not a
name of the package above it.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import subprocess
import sys
import types
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest

import mashsim

from .conftest import ROOT

API_DOCS = ROOT / "docs" / "reference" / "api"
# Public top-level modules that are not layers but have a reference page of their own
# (the shims that keep old paths working re-export a layer's module and are not listed).
PUBLIC_MODULES = ("mashsim.validation", "mashsim.errors")


def _public_packages() -> list[str]:
    """`mashsim` and every subpackage not starting with `_`: the layers, found, not listed."""
    return ["mashsim", *sorted(f"mashsim.{m.name}" for m in pkgutil.iter_modules(mashsim.__path__)
                               if m.ispkg and not m.name.startswith("_"))]


def _is_module(path: str) -> bool:
    try:
        return isinstance(importlib.import_module(path), types.ModuleType)
    except ImportError:
        return False


def _documented(pages: list[Path]) -> dict[str, set[str]]:
    """Module path → the names its `::: module.name` directives list, over all pages."""
    names: dict[str, set[str]] = defaultdict(set)
    for page in pages:
        for ident in re.findall(r"^::: *([\w.]+) *$", page.read_text(encoding="utf-8"), re.M):
            if not _is_module(ident):
                parent, _, name = ident.rpartition(".")
                names[parent].add(name)
    return names


DOCUMENTED = _documented(sorted(API_DOCS.glob("*.md")))


@pytest.mark.parametrize("module", [*_public_packages(), *PUBLIC_MODULES])
def test_all_matches_the_api_reference(module: str) -> None:
    exported = set(importlib.import_module(module).__all__)
    listed = DOCUMENTED.get(module, set())
    assert not exported - listed, f"{module}.__all__ names missing from docs/reference/api: " \
                                  f"{sorted(exported - listed)}"
    assert not listed - exported, f"docs/reference/api lists names {module}.__all__ lacks: " \
                                  f"{sorted(listed - exported)}"


def test_reference_lists_names_only_of_checked_modules() -> None:
    """A directive for `mashsim.x.y.name` would escape the check above: keep them to layers."""
    checked = {*_public_packages(), *PUBLIC_MODULES}
    assert set(DOCUMENTED) <= checked, sorted(set(DOCUMENTED) - checked)


@pytest.mark.parametrize("package", _public_packages()[1:])
def test_every_layer_has_a_reference_page(package: str) -> None:
    page = API_DOCS / f"{package.rpartition('.')[2]}.md"
    assert page.exists(), f"{package} has no page {page.relative_to(ROOT)}"
    assert re.search(rf"^::: {re.escape(package)} *$", page.read_text(encoding="utf-8"), re.M)


@pytest.mark.parametrize("module", [*_public_packages(), *PUBLIC_MODULES])
def test_all_names_exist(module: str) -> None:
    """`__all__` promises only what is there: `from module import *` would not fail."""
    mod = importlib.import_module(module)
    assert len(mod.__all__) == len(set(mod.__all__)), f"{module}.__all__ repeats a name"
    assert not [n for n in mod.__all__ if not hasattr(mod, n)]


def test_package_face() -> None:
    """The names a notebook needs, and nothing private (the version excepted)."""
    namespace: dict = {}
    exec("from mashsim import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(mashsim.__all__)
    assert {"load_scenario", "simulate", "Scenario", "Results", "ScenarioError"} <= set(
        mashsim.__all__)
    assert not [n for n in mashsim.__all__ if n.startswith("_") and n != "__version__"]
    results = mashsim.simulate(mashsim.load_scenario(mashsim.default_scenario_path())
                               .with_overrides({"run.duration_days": 35}), replications=1,
                               seed=0, workers=1)
    assert isinstance(results, mashsim.Results)  # the face names the type simulate returns


def test_py_typed_ships_in_the_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PEP 561: without the marker, type checkers ignore mashsim's annotations."""
    monkeypatch.setenv("MASHSIM_NO_COMPILE", "1")  # the marker, not mypyc (test_native.py)
    builder = pytest.importorskip("hatchling.builders.wheel").WheelBuilder(str(ROOT))
    wheel = next(iter(builder.build(directory=str(tmp_path), versions=["standard"])))
    assert "mashsim/py.typed" in zipfile.ZipFile(wheel).namelist()


ASSET = re.compile(r"<(?:script|img|iframe|source|embed)\b[^>]*\bsrc=\"([^\"]+)\""
                   r"|<link\b[^>]*\bhref=\"([^\"]+)\""
                   r"|url\(\s*['\"]?([^'\")]+)|@import\s+['\"]([^'\"]+)", re.I)


def _remote(ref: str) -> bool:
    return bool(re.match(r"(?:[a-z][a-z0-9+.-]*:)?//", ref, re.I)) and not ref.startswith(
        "data:")


def test_docs_build_strict_and_load_nothing_remote(tmp_path: Path) -> None:
    """The site builds with --strict and its pages load no script, style or font from a CDN.

    (Script bundles are not scanned: their code holds URLs it never loads on its own, such
    as the repository-statistics API used only when `repo_url` is set.)
    """
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                           "--site-dir", str(site)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    remote = sorted({f"{page.relative_to(site)}: {ref}"
                     for page in site.rglob("*") if page.suffix in {".html", ".css"}
                     for match in ASSET.finditer(page.read_text(encoding="utf-8", errors="replace"))
                     for ref in match.groups() if ref and _remote(ref)})
    assert not remote, remote[:10]


def test_the_package_imports_only_public_names() -> None:
    """Inside the package, `from mashsim.X import name` takes only names in X's `__all__`
    (or a submodule), so `__all__` is the honest list of what each module offers."""
    import ast
    import importlib.util

    package = Path(mashsim.__file__).resolve().parent
    around = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.module
                    and node.module.startswith("mashsim")):
                continue
            public = getattr(importlib.import_module(node.module), "__all__", None)
            for alias in node.names:
                name = alias.name
                if (public is None or name in public or name in ("*", "__all__")
                        or importlib.util.find_spec(f"{node.module}.{name}") is not None):
                    continue
                around.append(f"{path.relative_to(package)}: {node.module}.{name}")
    assert not around, around
