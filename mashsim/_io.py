"""Safe file output: a reader never sees a half-written file or a half-replaced folder.

Single files are written to a temporary name beside them and renamed. A folder of
results (`output_set`) is written whole to a temporary folder beside it and swapped in,
so it always holds one complete result set, never a mix of an old and a new one. The
replication cache (`cache/` inside the folder) is carried from the old set into the new
one, so an interrupted run still resumes.

Every operating-system failure (read-only folder, full disk, name too long, no
permission) becomes a `ScenarioError` naming the path: exit status 2, no traceback.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mashsim.errors import ScenarioError

__all__ = ["atomic_write_bytes", "atomic_write_text", "check_out_folder", "check_writable",
           "output_error", "output_set", "recover_kept"]

#: Entries of an output folder carried over into each new result set.
KEPT = ("cache",)
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def output_error(path: Path, err: OSError) -> ScenarioError:
    """`--out PATH: cannot write: <reason>` for an operating-system failure."""
    reason = err.strerror or str(err)
    where = f" ({err.filename})" if err.filename and str(err.filename) != str(path) else ""
    return ScenarioError([f"--out {path}: cannot write: {reason}{where}"])


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, then rename over `path`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.",
                                   suffix=".tmp")
    except OSError as err:
        raise output_error(path, err) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise output_error(path, err) from None
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path: Path) -> None:
    """Before a run: prove files can be made at `path` (a folder or file) and beside it.

    A read-only or full file system, a missing permission or a too-long name is then an
    error before any replication runs, not after. Only missing parent folders are made.
    """
    path = Path(path)
    try:
        parent = path.resolve().parent
        parent.mkdir(parents=True, exist_ok=True)
        name_max = os.pathconf(parent, "PC_NAME_MAX")
        if len(os.fsencode(path.name)) > name_max:
            raise OSError(errno.ENAMETOOLONG, f"{os.strerror(errno.ENAMETOOLONG)} "
                          f"(a name has at most {name_max} bytes here)")
        for where in (path, parent):
            if where.is_dir():
                fd, probe = tempfile.mkstemp(dir=where, prefix=".mashsim-probe-")
                os.close(fd)
                os.unlink(probe)
    except OSError as err:
        raise output_error(path, err) from None


def _tag(folder: Path) -> str:
    """Short, fixed-length tag of the folder's name (temporary names never get too long)."""
    return hashlib.sha256(folder.name.encode("utf-8", "surrogateescape")).hexdigest()[:10]


def _leftovers(folder: Path) -> list[Path]:
    """Temporary folders a crashed swap of `folder` left beside it."""
    parent = folder.resolve().parent
    return sorted(parent.glob(f".mashsim-*-{_tag(folder)}-*"))


def recover_kept(folder: Path) -> None:
    """Put back a cache that a swap interrupted by a crash left in a temporary folder."""
    folder = Path(folder)
    for name in KEPT:
        if (folder / name).exists():
            continue
        for tmp in _leftovers(folder):
            if (tmp / name).is_dir() and folder.is_dir():
                try:
                    os.rename(tmp / name, folder / name)
                except OSError:
                    continue
                break


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    errno_ = ctypes.get_errno()
    if errno_ in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: file system cannot
        return False
    raise OSError(errno_, os.strerror(errno_), str(b))


def _swap_in(new: Path, folder: Path) -> None:
    """Make `new` the folder's contents in one step where the system allows."""
    for name in KEPT:  # carry the resume cache over into the new set
        if (folder / name).exists() and not (new / name).exists():
            os.rename(folder / name, new / name)
    if not folder.exists():
        os.rename(new, folder)
        return
    if _exchange(new, folder):
        shutil.rmtree(new, ignore_errors=True)  # `new` now holds the old set
        return
    old = new.with_name(new.name.replace(".mashsim-new-", ".mashsim-old-", 1))
    os.rename(folder, old)
    os.rename(new, folder)
    shutil.rmtree(old, ignore_errors=True)


def check_out_folder(folder: Path) -> None:
    """Before a run: `--out` is a folder (or not yet there) that files can be made in."""
    check_writable(folder)  # first: a too-long name cannot even be looked at
    if folder.exists() and not folder.is_dir():
        raise ScenarioError([f"--out {folder}: exists and is not a folder"])


@contextmanager
def output_set(folder: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `folder`; fill it; it is swapped in whole.

    On any failure the temporary folder is removed and `folder` keeps its old set.
    """
    folder = Path(folder)
    check_out_folder(folder)
    try:
        folder.resolve().parent.mkdir(parents=True, exist_ok=True)
        if folder.exists():
            recover_kept(folder)
        for stale in _leftovers(folder):
            shutil.rmtree(stale, ignore_errors=True)
        new = Path(tempfile.mkdtemp(dir=folder.resolve().parent,
                                    prefix=f".mashsim-new-{_tag(folder)}-"))
        os.chmod(new, 0o777 & ~_umask())
    except OSError as err:
        raise output_error(folder, err) from None
    try:
        yield new
        _swap_in(new, folder)
    except BaseException as err:
        recover_kept(folder)
        shutil.rmtree(new, ignore_errors=True)
        if isinstance(err, OSError):
            raise output_error(folder, err) from None
        raise
