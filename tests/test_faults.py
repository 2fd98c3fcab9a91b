"""Faults answered plainly: exit 2 (or 130) with one clear line, no traceback, no orphans.

Sizes that cannot fit, unwritable or too-long output names, tampered cache files, the
parent killed or interrupted while workers run.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mashsim import _io
from mashsim.cli import main
from mashsim.experiment import resources
from mashsim.experiment.resources import check_fits
from mashsim.experiment.sweep import sweep

from .conftest import DEFAULT, ROOT

SHORT = ("--set", "run.duration_days=35", "--set", "run.warmup_days=7")
GIB = 1024**3


def _cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    """The one `mashsim: error:` line; a progress bar (shown when a run passes its 1 s
    delay on a busy machine) may stand before it on a line of its own, nothing else."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("mashsim: error: ")]
    others = [ln for ln in lines if ln not in errors and "rep/s]" not in ln and "rep]" not in ln]
    assert len(errors) == 1 and not others, err
    assert "Traceback" not in err
    return errors[0]


# -- 1. sizes that would exhaust the machine ----------------------------------------


BIG_DEMAND = ("--set", "arrivals.referrals_per_day=100000", "--set", "run.duration_days=3660")


@pytest.mark.parametrize(("args", "culprit", "memory_gib"), [
    (BIG_DEMAND, "arrivals.referrals_per_day", 8.0),
    (("--set", "hubs.reading.initial_backlog.count=1000000"), "initial_backlog.count", 0.5),
    (("--replications", "1e9"), "--replications", 8.0),
])
def test_run_too_big_is_refused_with_an_estimate(capsys, monkeypatch, tmp_path, args, culprit,
                                                 memory_gib):
    monkeypatch.setattr(resources, "available_memory_bytes", lambda: memory_gib * GIB)
    out = tmp_path / "res"
    code, _, err = _cli(capsys, "run", str(DEFAULT), *args, "--workers", "2",
                        "--out", str(out))
    assert code == 2
    line = _one_error_line(err)
    assert culprit in line and "--force" in line and "memory" in line
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize(("setting", "culprit"), [
    ("arrivals.referrals_per_day=1e9", "arrivals.referrals_per_day"),
    ("hubs.reading.initial_backlog.count=100000000", "initial_backlog.count"),
    ("hubs.reading.staff.headcount=10000000", "staff.headcount"),
])
def test_absurd_sizes_stop_at_validation(capsys, tmp_path, setting, culprit):
    """Beyond any real MASH the scenario itself is refused, naming the key."""
    out = tmp_path / "res"
    code, _, err = _cli(capsys, "run", str(DEFAULT), "--set", setting, "--out", str(out))
    assert code == 2 and culprit in _one_error_line(err)
    assert not out.exists()


@pytest.mark.parametrize("command", [
    ("sweep", "--vary", "hubs.reading.staff.headcount=3,4"),
    ("plan", "--target", "sd_breach_72h<=0.05", "--vary-staff", "reading"),
])
def test_sweep_and_plan_refuse_too(capsys, monkeypatch, command):
    monkeypatch.setattr(resources, "available_memory_bytes", lambda: 8.0 * GIB)
    code, _, err = _cli(capsys, command[0], str(DEFAULT), *command[1:], *BIG_DEMAND)
    assert code == 2 and "arrivals.referrals_per_day" in _one_error_line(err)


def test_long_runs_are_refused_and_force_overrides(default_scenario, monkeypatch):
    monkeypatch.setattr(resources, "available_memory_bytes", lambda: 1e15)
    big = default_scenario.with_overrides({"arrivals.referrals_per_day": 1e5})
    from mashsim.errors import ScenarioError

    with pytest.raises(ScenarioError, match="hour limit"):
        check_fits("s.toml", [big], replications=1000, workers=2)
    assert check_fits("s.toml", [big], replications=1000, workers=2, force=True) == 2


def test_workers_capped_at_the_task_count(default_scenario):
    assert check_fits("s.toml", [default_scenario], replications=2, workers=48) == 2
    assert check_fits("s.toml", [default_scenario] * 3, replications=2, workers=48) == 6


def test_estimate_matches_a_measured_replication(small_scenario):
    """The cost model is within a factor of 3 of a real replication (time, this machine)."""
    from mashsim.experiment.replications import single_run

    single_run(small_scenario, 1, 0)  # warm imports and caches
    t0 = time.perf_counter()
    single_run(small_scenario, 1, 1)
    seconds = time.perf_counter() - t0
    est = resources.estimate([small_scenario], 1, 1).seconds
    assert seconds / 3 < est < seconds * 3 or seconds < 0.1  # tiny runs: start-up dominates


# -- 2. output folders: unwritable, full, too long; never a mix of two sets -------------


def _raise(err_no: int):
    def fail(*_a, **_k):
        raise OSError(err_no, os.strerror(err_no))
    return fail


def test_read_only_output_folder_is_refused_before_the_run(capsys, monkeypatch, tmp_path):
    if os.geteuid() != 0:  # a real read-only folder
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        out = ro / "res"
    else:  # root writes anywhere: inject the error the file system would give
        monkeypatch.setattr(_io.tempfile, "mkstemp", _raise(errno.EROFS))
        out = tmp_path / "res"
    ran: list[int] = []
    monkeypatch.setattr("mashsim.cli.run.simulate", lambda *a, **k: ran.append(1))
    code, _, err = _cli(capsys, "run", "--replications", "2", "--out", str(out), *SHORT)
    assert code == 2 and not ran
    line = _one_error_line(err)
    assert f"--out {out}" in line and ("Read-only" in line or "Permission" in line)


def test_full_disk_after_the_run_keeps_the_old_set_whole(capsys, monkeypatch, tmp_path):
    out = tmp_path / "res"
    assert _cli(capsys, "run", "--replications", "2", "--workers", "1", "--seed", "1",
                "--out", str(out), *SHORT)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}  # not cache/
    real = _io.atomic_write_bytes

    def fill_up(path, data):  # the disk fills while the third file is written
        if path.name == "backlog_daily.csv":
            raise _io.output_error(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        real(path, data)

    monkeypatch.setattr(_io, "atomic_write_bytes", fill_up)
    code, _, err = _cli(capsys, "run", "--replications", "2", "--workers", "1", "--seed", "2",
                        "--out", str(out), *SHORT)
    assert code == 2 and "No space left" in _one_error_line(err)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert json.loads((out / "summary.json").read_text())["seed"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["res"]  # no temporary folder left


def test_second_run_replaces_the_whole_set_and_keeps_the_cache(small_scenario, tmp_path):
    out = tmp_path / "sw"
    vary = {"hubs.reading.staff.headcount": [3, 4]}
    sweep(small_scenario, vary, replications=2, seed=1, workers=1, out=out)
    (out / "stale.txt").write_text("from an older run")
    cached = sorted(p.relative_to(out) for p in (out / "cache").rglob("*.json"))
    sweep(small_scenario, vary, replications=2, seed=1, workers=1, out=out)
    assert not (out / "stale.txt").exists()
    assert sorted(p.relative_to(out) for p in (out / "cache").rglob("*.json")) == cached
    assert {p.name for p in tmp_path.iterdir()} == {"sw"}


def test_too_long_output_name_is_a_clear_error(capsys, tmp_path):
    out = tmp_path / ("x" * 300)
    code, _, err = _cli(capsys, "run", "--replications", "2", "--out", str(out), *SHORT)
    assert code == 2 and "too long" in _one_error_line(err)


def test_long_but_valid_file_name_is_written(tmp_path):
    path = tmp_path / ("r" * 250 + ".html")  # its temporary name must not be longer
    _io.atomic_write_text(path, "ok")
    assert path.read_text() == "ok"


# -- 3. a cache file is checked against what it claims to hold --------------------------

VARY = {"hubs.reading.staff.headcount": [3, 4]}


def test_tampered_cache_file_is_ignored_and_rerun(small_scenario, tmp_path, capsys):
    fresh = sweep(small_scenario, VARY, replications=3, seed=1, workers=1)
    out = tmp_path / "sw"
    sweep(small_scenario, VARY, replications=3, seed=1, workers=1, out=out)
    folders = sorted(p for p in (out / "cache").iterdir())
    a, b = folders
    shutil.copy(a / "r00000.json", a / "r00001.json")  # a copied replication
    shutil.copy(b / "r00002.json", a / "r00002.json")  # another scenario's replication
    capsys.readouterr()
    again = sweep(small_scenario, VARY, replications=3, seed=1, workers=1, out=out)
    err = capsys.readouterr().err
    assert again.equals(fresh)
    assert err.count("mashsim: warning:") == 2 and "running replication 1 again" in err
    sweep(small_scenario, VARY, replications=3, seed=1, workers=1, out=out)  # now repaired
    assert "warning" not in capsys.readouterr().err


# -- 4. processes: workers die with their parent; Ctrl-C exits 130 cleanly --------------

SLOW_SWEEP = [sys.executable, "-m", "mashsim.cli", "sweep", str(DEFAULT), "--vary",
              "hubs.reading.staff.headcount=3,4,5,6", "--replications", "20",
              "--workers", "2", "--force"]


def _children(pid: int) -> list[int]:
    """Live (non-zombie) processes whose parent is `pid`."""
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _start_with_workers(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([*SLOW_SWEEP, "--out", str(tmp_path / "sw")], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        kids = _children(proc.pid)
        if len(kids) >= 2:
            time.sleep(0.5)  # let the workers initialise and start a replication
            return proc, kids
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"no workers started: {proc.communicate()[1].decode()}")


def _gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


pytestmark_linux = pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                      reason="needs /proc")


@pytestmark_linux
def test_sigkill_of_the_parent_leaves_no_orphan_workers(tmp_path):
    proc, kids = _start_with_workers(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # returns only once no worker holds our pipes
    try:
        assert _gone_within(kids, 5.0), f"orphan workers: {[k for k in kids if _alive(k)]}"
    finally:
        for k in kids:
            if _alive(k):
                os.kill(k, signal.SIGKILL)


@pytestmark_linux
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_exits_130_without_traceback(tmp_path, presses):
    proc, kids = _start_with_workers(tmp_path)
    for _ in range(presses):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "interrupted" in text
    assert _gone_within(kids, 5.0)


def test_ctrl_c_during_start_up_exits_130(capsys, monkeypatch):
    def interrupted_start_up():
        raise KeyboardInterrupt

    monkeypatch.setattr("mashsim.cli.build_parser", interrupted_start_up)
    code, _, err = _cli(capsys, "run")
    assert code == 130 and err.strip() == "mashsim: interrupted; nothing was written"


# -- 5. the interrupt message starts on its own line --------------------------------------


def test_interrupt_message_is_not_glued_to_the_progress_bar(capsys, monkeypatch):
    from mashsim import progress

    def bar_then_ctrl_c(*_a, **_k):
        progress.stream().write("\rreplications:  40%|####      | 4/10")
        raise KeyboardInterrupt

    monkeypatch.setattr("mashsim.cli.run.simulate", bar_then_ctrl_c)
    code, _, err = _cli(capsys, "run", *SHORT)
    assert code == 130
    assert "\nmashsim: interrupted" in err


def test_stage_line_starts_afresh(capsys):
    from mashsim import progress

    progress.stream().write("\rreplications: 100%")
    progress.stage("drawing figures")
    assert capsys.readouterr().err.endswith("100%\nmashsim: drawing figures…\n")


def test_a_reader_leaving_the_pipe_early_ends_quietly() -> None:
    """`mashsim run … | head -c 10`: the reader goes away; no BrokenPipeError traceback.

    The pipe is shrunk to one page (Linux F_SETPIPE_SZ) so the JSON (≈8 kB) cannot fit in
    it and the command must still be writing when the reader leaves."""
    import fcntl

    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, 1031, 4096)  # F_SETPIPE_SZ
    mmc = str(ROOT / "scenarios/validation/mmc.toml")
    proc = subprocess.Popen([sys.executable, "-m", "mashsim.cli", "run", mmc, "--replications",
                             "2", "--workers", "1", "--format", "json", "--set",
                             "run.duration_days=5", "--set", "run.warmup_days=1"],
                            stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    os.read(read_end, 10)
    os.close(read_end)  # the reader leaves before the command has written everything
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
