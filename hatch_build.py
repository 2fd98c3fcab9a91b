"""Hatchling build hook: compile mashsim's hot modules with mypyc, optionally.

The modules are `COMPILED_MODULES` in `mashsim/_native.py` (its one home; that file is
loaded on its own here, since importing mashsim would need numpy and the rest, which the
build environment lacks). The compilation runs in a child process (this file run as a
script: mypyc's type check, then setuptools' build_ext), with its C files and objects in
a temporary folder. Its outputs, the extension modules and `_native_build.json` (each
source's sha256), go into the wheel (standard) or beside the sources in the checkout
(editable: hatchling's editable wheel puts the project root on sys.path).

Never fatal: with `MASHSIM_NO_COMPILE=1`, no C compiler, no mypyc, or any error from
mypyc or the compiler, it prints one warning line and the package installs as pure
Python. An editable build first removes the previous build's files from the checkout, so
a failed or skipped compilation never leaves stale ones behind, unless they are a build of
exactly the present sources (same build key), which it keeps rather than compile again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Mapping, Sequence
from inspect import signature
from pathlib import Path
from types import ModuleType
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

NO_COMPILE_ENV = "MASHSIM_NO_COMPILE"
PACKAGE = "mashsim"
GROUP = "mashsim._native_lib"  # the shared library: mashsim/_native_lib__mypyc.<suffix>
# -O3 as the lead's experiment measured; no debug info (smaller, faster to link)
OPT_LEVEL, DEBUG_LEVEL = "3", "0"
# Type-check only what is compiled: errors in other modules (whose dependencies the build
# environment may lack) are not the build's concern.
MYPY_FLAGS = ("--follow-imports=silent",)
BUILD_TIMEOUT_S = 900


class NativeBuildError(Exception):
    """Compilation failed; the message is one line saying why."""


def load_native(root: Path) -> ModuleType:
    """`mashsim/_native.py` as a standalone module (standard library only)."""
    spec = importlib.util.spec_from_file_location("_mashsim_native_build",
                                                  root / PACKAGE / "_native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def skip_reason(environ: Mapping[str, str]) -> str | None:
    """Why not to compile at all (None: try). Checked before spending time on mypyc."""
    if environ.get(NO_COMPILE_ENV) == "1":
        return f"{NO_COMPILE_ENV}=1"
    if importlib.util.find_spec("mypyc") is None:
        return "mypyc is not installed"
    compiler = str(sysconfig.get_config_var("CC") or "").split()  # unset on Windows (MSVC)
    if compiler and shutil.which(compiler[0]) is None:
        return f"no C compiler ({compiler[0]})"
    return None


def extension_outputs(package_dir: Path) -> list[Path]:
    """Compiled files beneath `package_dir` (the package has no other extension modules)."""
    return sorted(p for p in package_dir.rglob("*")
                  if p.is_file() and p.name.endswith((".so", ".pyd")))


def clean_inplace(root: Path, record_name: str) -> None:
    """Remove a previous editable build's files from the checkout (a mypy without
    `group_name` puts the shared library at the top: `<hash>__mypyc.<suffix>`)."""
    top_libs = [p for p in root.glob("*__mypyc.*") if p.name.endswith((".so", ".pyd"))]
    for path in [*extension_outputs(root / PACKAGE), *top_libs, root / PACKAGE / record_name]:
        path.unlink(missing_ok=True)


def compile_native(root: Path, modules: Sequence[str], work_dir: Path) -> Path:
    """Compile `modules` in a child process; returns the folder of built files, laid out
    as in the package (`mashsim/model/engine.<suffix>`, ...)."""
    lib_dir = work_dir / "lib"
    command = [sys.executable, str(Path(__file__).resolve()), str(root), str(work_dir),
               *modules]
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NativeBuildError(str(exc).splitlines()[0]) from exc
    if done.returncode != 0 or not extension_outputs(lib_dir / PACKAGE):
        raise NativeBuildError(first_error(done.stdout + "\n" + done.stderr))
    return lib_dir


def first_error(output: str) -> str:
    """The line of a failed build's output most worth showing."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if ": error:" in line or line.startswith("error:"):
            return line
    return lines[-1] if lines else "no output"


def write_record(lib_dir: Path, root: Path, native: ModuleType, modules: Sequence[str]) -> Path:
    """`_native_build.json`: each compiled module's source sha256 (the stale check) and the
    build key (an editable reinstall with the same key reuses the build)."""
    record = lib_dir / PACKAGE / native.BUILD_RECORD
    hashes = {m: native.source_sha256(native.source_path(m, root / PACKAGE)) for m in modules}
    data = {"modules": hashes, "build_key": build_key(root)}
    record.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return record


def build_key(root: Path) -> str:
    """What a build depends on: every source of the package (mypyc reads the types of the
    modules the compiled ones import), this hook, mypy's version and the interpreter."""
    digest = hashlib.sha256()
    for path in sorted((root / PACKAGE).rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    try:
        mypy_version = importlib.metadata.version("mypy")
    except importlib.metadata.PackageNotFoundError:
        mypy_version = "none"
    for part in (Path(__file__).read_bytes(), mypy_version.encode(), sys.version.encode(),
                 str(sysconfig.get_config_var("EXT_SUFFIX")).encode()):
        digest.update(b"\0" + part)
    return digest.hexdigest()


def inplace_up_to_date(root: Path, native: ModuleType) -> bool:
    """True if the checkout holds a complete build of exactly these sources (the record
    is copied last, so its presence vouches for the extensions)."""
    try:
        data = json.loads((root / PACKAGE / native.BUILD_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict) or data.get("build_key") != build_key(root):
        return False
    return native.decide({}, root / PACKAGE) == (True, "compiled")


def install_inplace(lib_dir: Path, root: Path) -> None:
    """Copy the built files beside the sources (the record last: it vouches for the rest)."""
    files = sorted(p for p in lib_dir.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.suffix == ".json")
    for path in files:
        target = root / path.relative_to(lib_dir)
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(path, partial)
        os.replace(partial, target)  # a new inode: a running process keeps its old .so


def warn(message: str) -> None:
    print(f"mashsim: warning: {message}", file=sys.stderr, flush=True)


class NativeBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compiles COMPILED_MODULES for the wheel, standard and editable."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root).resolve()
        native = load_native(root)
        reason = skip_reason(os.environ)
        if version == "editable":
            if reason is None and inplace_up_to_date(root, native):
                print("mashsim: compiled modules are up to date; not recompiling",
                      file=sys.stderr, flush=True)
                return
            clean_inplace(root, native.BUILD_RECORD)
        if reason is not None:
            warn(f"not compiling {', '.join(native.COMPILED_MODULES)} ({reason}); "
                 "installing pure Python")
            return
        self._work_dir = Path(tempfile.mkdtemp(prefix="mashsim-native-"))
        start_s = time.monotonic()
        try:
            lib_dir = compile_native(root, native.COMPILED_MODULES, self._work_dir)
        except NativeBuildError as exc:
            warn(f"mypyc could not compile {', '.join(native.COMPILED_MODULES)} ({exc}); "
                 "installing pure Python")
            return
        write_record(lib_dir, root, native, native.COMPILED_MODULES)
        print(f"mashsim: compiled {', '.join(native.COMPILED_MODULES)} with mypyc in "
              f"{time.monotonic() - start_s:.0f} s", file=sys.stderr, flush=True)
        if version == "editable":
            install_inplace(lib_dir, root)
            return
        for path in lib_dir.rglob("*"):
            if path.is_file():
                build_data["force_include"][str(path)] = path.relative_to(lib_dir).as_posix()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work_dir = getattr(self, "_work_dir", None)
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)


def build_main(root: Path, work_dir: Path, modules: Sequence[str]) -> None:
    """The child process: mypyc's C for `modules`, then setuptools' build_ext into
    `work_dir/lib`; C sources and objects stay in `work_dir`."""
    import setuptools  # noqa: F401  (mypyc picks setuptools' Extension once it is imported)
    from mypyc.build import mypycify
    from setuptools import Distribution

    native = load_native(root)
    paths = [str(native.source_path(m, root / PACKAGE).relative_to(root)) for m in modules]
    # the shared library inside the package, where this mypyc can name it
    named: dict[str, Any] = {}
    if "group_name" in signature(mypycify).parameters:
        named["group_name"] = GROUP
    flags = [*MYPY_FLAGS, "--cache-dir", str(work_dir / "mypy_cache")]  # not in the checkout
    extensions = mypycify([*paths, *flags], opt_level=OPT_LEVEL, debug_level=DEBUG_LEVEL,
                          target_dir=str(work_dir / "c"), **named)
    dist = Distribution({"name": "mashsim-native", "packages": [], "ext_modules": extensions})
    build_ext = dist.get_command_obj("build_ext")
    build_ext.build_lib = str(work_dir / "lib")  # type: ignore[attr-defined]
    build_ext.build_temp = str(work_dir / "temp")  # type: ignore[attr-defined]
    dist.run_command("build_ext")


if __name__ == "__main__":
    build_main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
