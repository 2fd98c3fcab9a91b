"""Optional mypyc-compiled hot modules: which ones, and whether this process may use them.

`COMPILED_MODULES` is the one list of modules the build hook (`hatch_build.py`) compiles
with mypyc. The hook records each module's source sha256 in `_native_build.json` next to
this file. `use_native()`, called first thing by `mashsim/__init__.py`, loads ALL listed
modules from their `.py` sources instead when `MASHSIM_PURE_PYTHON=1` is set or when any
source no longer matches its recorded hash (edited after `pip install -e .`): compiled
modules of one build call each other natively, so a mix of compiled and pure would run
stale code. Standard library only: the build hook loads this file on its own, without
importing mashsim (whose dependencies the build environment lacks).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Mapping, Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["COMPILED_MODULES", "native_status", "use_native", "version_lines"]

# The modules mypyc compiles (one group: they call each other natively). Each must
# compile cleanly with mypyc; adding one here is all the build needs.
COMPILED_MODULES: tuple[str, ...] = ("mashsim.model.engine", "mashsim.model.hub",
                                     "mashsim.model.overtime")

BUILD_RECORD = "_native_build.json"  # written by the build hook beside this file
PURE_ENV = "MASHSIM_PURE_PYTHON"
STALE_NOTE = ("mashsim: note: compiled modules are older than their sources; running pure "
              "Python (reinstall with pip install -e . to recompile)")
COMPILED_LABEL = "compiled (mypyc)"
PURE_LABEL = "pure Python"

PACKAGE_DIR = Path(__file__).resolve().parent


def source_path(module: str, package_dir: Path = PACKAGE_DIR) -> Path:
    """`mashsim.model.engine` → `<package_dir>/model/engine.py`."""
    return package_dir.joinpath(*module.split(".")[1:]).with_suffix(".py")


def source_sha256(path: Path) -> str:
    """The hash the build records and the import checks (a few files, a few µs each)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def extension_files(module: str, package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """The compiled extension files of `module` beside its source, for this interpreter."""
    src = source_path(module, package_dir)
    return [p for suffix in importlib.machinery.EXTENSION_SUFFIXES
            if (p := src.with_name(src.stem + suffix)).is_file()]


def read_record(package_dir: Path = PACKAGE_DIR) -> dict[str, str] | None:
    """Module → source sha256 at build time, or None when nothing was compiled."""
    try:
        data = json.loads((package_dir / BUILD_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    modules = data.get("modules") if isinstance(data, dict) else None
    return modules if isinstance(modules, dict) else None


def decide(environ: Mapping[str, str], package_dir: Path = PACKAGE_DIR,
           modules: Sequence[str] = COMPILED_MODULES) -> tuple[bool, str]:
    """(use the compiled modules?, why): pure when asked, when nothing is compiled, or
    when any compiled module is stale (its source changed, it is missing, or the list
    changed since the build)."""
    if environ.get(PURE_ENV) == "1":
        return False, f"{PURE_ENV}=1"
    record = read_record(package_dir)
    built = {m for m in modules if extension_files(m, package_dir)}
    if record is None and not built:
        return False, "not compiled"
    if record is None or set(record) != set(modules) or built != set(modules):
        return False, "stale"
    for module in modules:
        src = source_path(module, package_dir)
        if src.is_file() and source_sha256(src) != record[module]:
            return False, "stale"
    return True, "compiled"


class SourceFinder(MetaPathFinder):
    """Imports the listed modules from their `.py` files, ahead of any `.so` beside them."""

    def __init__(self, sources: Mapping[str, Path]) -> None:
        self.sources = dict(sources)

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        src = self.sources.get(fullname)
        if src is None or not src.is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, src)


_decision: tuple[bool, str] | None = None


def use_native(environ: Mapping[str, str] | None = None) -> bool:
    """Decide once per process, before any listed module is imported; True if the
    compiled modules will be used. Otherwise a `SourceFinder` serves their `.py`."""
    global _decision
    if _decision is not None:
        return _decision[0]
    _decision = decide(os.environ if environ is None else environ)
    native, reason = _decision
    if not native and reason != "not compiled":
        sources = {m: source_path(m) for m in COMPILED_MODULES}
        if not any(isinstance(f, SourceFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, SourceFinder(sources))
        if reason == "stale" and _is_main_process():
            print(STALE_NOTE, file=sys.stderr)
    return native


def _is_main_process() -> bool:
    """Worker processes (multiprocessing, Dask) stay quiet: the parent said it once."""
    import multiprocessing

    return multiprocessing.parent_process() is None


def native_status() -> dict[str, Any]:
    """Which listed modules are compiled and in use, for `mashsim --version` and the
    benchmarks: {"compiled": bool, "reason": str, "modules": {name: label}}, where a
    label is "compiled (mypyc)" or "pure Python" (from the module itself once imported)."""
    native, reason = _decision if _decision is not None else decide(os.environ)
    labels = {}
    for module in COMPILED_MODULES:
        loaded = sys.modules.get(module)
        in_use = (native if loaded is None
                  else str(getattr(loaded, "__file__", "")).endswith(
                      tuple(importlib.machinery.EXTENSION_SUFFIXES)))
        labels[module] = COMPILED_LABEL if in_use else PURE_LABEL
    return {"compiled": native, "reason": reason, "modules": labels}


def version_lines() -> list[str]:
    """`engine: compiled (mypyc)` / `engine: pure Python (why)`, one line a module."""
    status = native_status()
    why = "" if status["compiled"] else f" ({status['reason']})"
    return [f"{name.rsplit('.', 1)[-1]}: {label}{'' if label == COMPILED_LABEL else why}"
            for name, label in status["modules"].items()]


if __name__ == "mashsim._native":  # imported by mashsim/__init__.py (not by the build hook)
    use_native()
