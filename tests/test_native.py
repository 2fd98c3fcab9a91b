"""The optional mypyc build: compiled and pure give the same bytes, a stale `.so` is never
used, and the build hook falls back to pure Python rather than fail (hatch_build.py,
mashsim/_native.py)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mashsim import _native

from .conftest import ROOT

ENGINE = "mashsim.model.engine"
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def load_hook() -> ModuleType:
    pytest.importorskip("hatchling")
    spec = importlib.util.spec_from_file_location("hatch_build_under_test",
                                                  ROOT / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def env_without(*names: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in names}
    return {**env, **extra}


def python(code: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=120, check=False)


# --- pure and compiled agree ---------------------------------------------------------------

@pytest.mark.parametrize("scenario", ["thames_valley.toml", "summer_2023.toml"])
def test_compiled_and_pure_give_identical_json(scenario: str) -> None:
    if not _native.decide(env_without(_native.PURE_ENV))[0]:
        pytest.skip("no compiled modules in this checkout (pip install -e . compiles them)")
    command = [sys.executable, "-m", "mashsim.cli", "run", f"scenarios/{scenario}",
               "--replications", "2", "--workers", "1", "--format", "json"]
    outputs = {}
    for pure in ("0", "1"):
        env = env_without("PYTHONPATH", PYTHONPATH=str(ROOT), **{_native.PURE_ENV: pure})
        done = subprocess.run(command, cwd=ROOT, env=env, text=True, capture_output=True,
                              timeout=300, check=True)
        version = subprocess.run([*command[:3], "--version"], cwd=ROOT, env=env, text=True,
                                 capture_output=True, timeout=60, check=True).stdout
        label = _native.PURE_LABEL if pure == "1" else _native.COMPILED_LABEL
        assert f"engine: {label}" in version  # each run used the engine it was meant to
        outputs[pure] = done.stdout
    assert json.loads(outputs["0"])["metrics"]
    assert outputs["0"] == outputs["1"]


# --- the stale guard and the switch ------------------------------------------------------

@pytest.fixture
def fake_build(tmp_path: Path) -> Path:
    """The package copied with a BOGUS engine extension beside engine.py and a record of
    engine.py's true hash: importing the extension fails, so only the guard's loading of
    the `.py` can make an import of the engine succeed."""
    shutil.copytree(ROOT / "mashsim", tmp_path / "mashsim",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd",
                                                  _native.BUILD_RECORD))
    package = tmp_path / "mashsim"
    for module in _native.COMPILED_MODULES:
        src = _native.source_path(module, package)
        src.with_name(src.stem + SUFFIX).write_bytes(b"not an extension module")
    record = {m: _native.source_sha256(_native.source_path(m, package))
              for m in _native.COMPILED_MODULES}
    (package / _native.BUILD_RECORD).write_text(json.dumps({"modules": record}))
    return tmp_path


IMPORT_ENGINE = ("import mashsim._native as n, mashsim.model.engine as e; n.use_native(); "
                 "print(e.__file__); print(n.version_lines()[0])")


def run_in(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return python(IMPORT_ENGINE, root, env_without("PYTHONPATH", _native.PURE_ENV,
                                                   PYTHONPATH=str(root), **env))


def test_up_to_date_build_is_imported(fake_build: Path) -> None:
    """The control: with a matching record Python does pick the (bogus) extension."""
    done = run_in(fake_build)
    assert done.returncode != 0
    assert "engine" in done.stderr and "Error" in done.stderr


def test_stale_build_runs_pure_python_and_says_so_once(fake_build: Path) -> None:
    with (fake_build / "mashsim" / "model" / "engine.py").open("a") as src:
        src.write("\n# edited after the build\n")
    done = run_in(fake_build)
    assert done.returncode == 0, done.stderr
    path, version = done.stdout.splitlines()
    assert Path(path) == fake_build / "mashsim" / "model" / "engine.py"
    assert version == "engine: pure Python (stale)"
    assert done.stderr.count(_native.STALE_NOTE) == 1


def test_pure_python_switch_loads_the_sources(fake_build: Path) -> None:
    done = run_in(fake_build, **{_native.PURE_ENV: "1"})
    assert done.returncode == 0, done.stderr
    path, version = done.stdout.splitlines()
    assert Path(path) == fake_build / "mashsim" / "model" / "engine.py"
    assert version == f"engine: pure Python ({_native.PURE_ENV}=1)"
    assert _native.STALE_NOTE not in done.stderr


def test_decide(fake_build: Path) -> None:
    package = fake_build / "mashsim"
    record = package / _native.BUILD_RECORD
    assert _native.decide({}, package) == (True, "compiled")
    assert _native.decide({_native.PURE_ENV: "1"}, package) == (False, "MASHSIM_PURE_PYTHON=1")
    # a module added to the list since the build: the build is stale, all of it runs pure
    added = (*_native.COMPILED_MODULES, "mashsim.model.not_built_yet")
    assert _native.decide({}, package, added) == (False, "stale")
    record.unlink()  # extensions without their record: stale
    assert _native.decide({}, package) == (False, "stale")
    for path in package.rglob(f"*{SUFFIX}"):
        path.unlink()
    assert _native.decide({}, package) == (False, "not compiled")


def test_version_names_the_engine() -> None:
    lines = _native.version_lines()
    assert [line.split(":")[0] for line in lines] == [
        m.rsplit(".", 1)[-1] for m in _native.COMPILED_MODULES]
    assert lines[0].startswith(("engine: compiled (mypyc)", "engine: pure Python ("))


# --- the build hook -------------------------------------------------------------------------

def test_hook_skips_when_told_to() -> None:
    hook = load_hook()
    assert hook.skip_reason({"MASHSIM_NO_COMPILE": "1"}) == "MASHSIM_NO_COMPILE=1"
    assert hook.skip_reason({"MASHSIM_NO_COMPILE": "0"}) == hook.skip_reason({})


def test_hook_skips_without_a_c_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = load_hook()
    if hook.skip_reason({}) == "mypyc is not installed":
        pytest.skip("mypyc is not installed")
    monkeypatch.setattr(hook.sysconfig, "get_config_var",
                        lambda name: "no-such-cc-here -pthread" if name == "CC" else None)
    assert hook.skip_reason({}) == "no C compiler (no-such-cc-here)"


def project_copy(tmp_path: Path) -> Path:
    """What a wheel build reads: pyproject, the hook, README, the package, scenarios."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("pyproject.toml", "hatch_build.py", "README.md", ".gitignore"):
        shutil.copy(ROOT / name, root / name)
    for folder in ("mashsim", "scenarios"):
        shutil.copytree(ROOT / folder, root / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd",
                                                      _native.BUILD_RECORD))
    return root


def build_wheel(root: Path, version: str, tmp_path: Path) -> zipfile.ZipFile:
    builder = pytest.importorskip("hatchling.builders.wheel").WheelBuilder(str(root))
    wheel = next(iter(builder.build(directory=str(tmp_path / "dist"), versions=[version])))
    return zipfile.ZipFile(wheel)


def run_hook(root: Path, version: str, tmp_path: Path,
             hook: ModuleType | None = None) -> dict[str, Any]:
    """The hook as hatchling calls it (an editable wheel build itself needs `editables`)."""
    plugin = (hook or load_hook()).NativeBuildHook(str(root), {}, None, None, str(tmp_path),
                                                   "wheel")
    build_data: dict[str, Any] = {"force_include": {}, "pure_python": True, "infer_tag": False}
    plugin.initialize(version, build_data)
    plugin.finalize(version, build_data, "")
    return build_data


def test_no_compile_builds_a_pure_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MASHSIM_NO_COMPILE", "1")
    wheel = build_wheel(project_copy(tmp_path), "standard", tmp_path)
    names = wheel.namelist()
    assert Path(wheel.filename or "").name.endswith("-py3-none-any.whl")
    assert "mashsim/model/engine.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyd")) or _native.BUILD_RECORD in n]
    listed = ", ".join(_native.COMPILED_MODULES)
    assert f"not compiling {listed} (MASHSIM_NO_COMPILE=1)" in capsys.readouterr().err


def test_editable_no_compile_removes_the_previous_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A skipped or failed compilation leaves no stale extension in the checkout."""
    root = project_copy(tmp_path)
    engine = _native.source_path(ENGINE, root / "mashsim")
    leftovers = [engine.with_name(engine.stem + SUFFIX),
                 root / "mashsim" / f"_native_lib__mypyc{SUFFIX}",
                 root / "mashsim" / _native.BUILD_RECORD]
    for path in leftovers:
        path.write_bytes(b"old build")
    monkeypatch.setenv("MASHSIM_NO_COMPILE", "1")
    build_data = run_hook(root, "editable", tmp_path)
    assert [p for p in leftovers if p.exists()] == []
    assert build_data["pure_python"]
    assert engine.is_file()


def test_failed_compilation_falls_back_to_pure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    hook = load_hook()

    def fail(*args: Any) -> Path:
        raise hook.NativeBuildError("engine.py:1: error: no")

    monkeypatch.setattr(hook, "compile_native", fail)
    monkeypatch.setattr(hook, "skip_reason", lambda environ: None)
    build_data = run_hook(project_copy(tmp_path), "standard", tmp_path, hook)
    assert build_data == {"force_include": {}, "pure_python": True, "infer_tag": False}
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mypyc could not compile" in err and "no" in err


def test_hook_compiles_a_module_and_records_its_hash(tmp_path: Path) -> None:
    """The real child process on a tiny package: the extension imports and runs, the
    record holds its source's hash; a module mypyc rejects is one error line."""
    hook = load_hook()
    if (reason := hook.skip_reason(env_without("MASHSIM_NO_COMPILE"))) is not None:
        pytest.skip(f"cannot compile here: {reason}")
    root = tmp_path / "tiny"
    (root / "mashsim").mkdir(parents=True)
    shutil.copy(ROOT / "mashsim" / "_native.py", root / "mashsim" / "_native.py")
    (root / "mashsim" / "__init__.py").write_text("")
    (root / "mashsim" / "fast.py").write_text("def twice(x: int) -> int:\n    return 2 * x\n")
    (root / "mashsim" / "bad.py").write_text("def f(x: int) -> str:\n    return x\n")
    lib = hook.compile_native(root, ["mashsim.fast"], tmp_path / "work")
    record = hook.write_record(lib, root, hook.load_native(root), ["mashsim.fast"])
    built = [p.name for p in hook.extension_outputs(lib / "mashsim")]
    assert f"fast{SUFFIX}" in built
    assert json.loads(record.read_text())["modules"] == {
        "mashsim.fast": _native.source_sha256(root / "mashsim" / "fast.py")}
    shutil.copytree(lib / "mashsim", root / "mashsim", dirs_exist_ok=True)
    done = python("import mashsim.fast as f; print(f.__file__, f.twice(21))", root,
                  env_without("PYTHONPATH", PYTHONPATH=str(root)))
    assert done.stdout.split() == [str(root / "mashsim" / f"fast{SUFFIX}"), "42"]
    with pytest.raises(hook.NativeBuildError, match=r"bad\.py:2: error: Incompatible return"):
        hook.compile_native(root, ["mashsim.bad"], tmp_path / "work_bad")


def test_editable_reinstall_reuses_an_up_to_date_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second `pip install -e .` of the same sources (CI does two) keeps the build; an
    edit to any source of the package, compiled or not, compiles again."""
    hook = load_hook()
    compiled: list[int] = []

    def fake_compile(root: Path, modules: list[str], work_dir: Path) -> Path:
        compiled.append(1)
        lib = work_dir / "lib"
        for module in modules:
            src = _native.source_path(module, lib / "mashsim")
            src.parent.mkdir(parents=True, exist_ok=True)
            src.with_name(src.stem + SUFFIX).write_bytes(b"built")
        return lib

    monkeypatch.setattr(hook, "compile_native", fake_compile)
    monkeypatch.setattr(hook, "skip_reason", lambda environ: None)
    root = project_copy(tmp_path)
    engine_so = root / "mashsim" / "model" / f"engine{SUFFIX}"
    for _ in range(2):
        run_hook(root, "editable", tmp_path, hook)
    assert compiled == [1] and engine_so.read_bytes() == b"built"
    with (root / "mashsim" / "model" / "hub.py").open("a") as src:
        src.write("\n# an edit\n")
    engine_so.write_bytes(b"old")
    run_hook(root, "editable", tmp_path, hook)
    assert compiled == [1, 1] and engine_so.read_bytes() == b"built"
