"""Start the page: Streamlit on 127.0.0.1, telemetry off, address printed once it answers.

Streamlit runs in a child process (`python -m streamlit run page.py`) with every option
given as a flag, so no user or project config file can turn telemetry back on or open
the server to the network. Ctrl-C (or the parent ending) stops it and its workers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from mashsim.app import SCENARIO_ENV, page_path

__all__ = ["HOST", "free_port", "serve", "streamlit_command", "wait_healthy"]

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
MAX_UPLOAD_MB = 5


def free_port() -> int:
    """A loopback port nobody is listening on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def streamlit_command(port: int) -> list[str]:
    """The `streamlit run` command line: loopback only, headless, no telemetry."""
    return [sys.executable, "-m", "streamlit", "run", str(page_path()),
            f"--server.address={HOST}", f"--server.port={port}", "--server.headless=true",
            "--browser.gatherUsageStats=false", f"--browser.serverAddress={HOST}",
            "--server.fileWatcherType=none", "--server.runOnSave=false",
            f"--server.maxUploadSize={MAX_UPLOAD_MB}", "--global.developmentMode=false",
            "--client.toolbarMode=minimal", "--theme.base=light"]


def wait_healthy(url: str, alive: Callable[[], bool], timeout_s: float = START_TIMEOUT_S
                 ) -> bool:
    """Poll Streamlit's health endpoint until it answers, the server dies, or time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def serve(scenario: Path | None, port: int) -> int:
    """Run the app until Ctrl-C; the exit status."""
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    if scenario is not None:
        env[SCENARIO_ENV] = str(scenario.resolve())
    else:
        env.pop(SCENARIO_ENV, None)
    url = f"http://{HOST}:{port}"
    if hasattr(signal, "SIGTERM"):  # `kill` stops the server too, not only this process
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    proc = subprocess.Popen(streamlit_command(port), env=env, stdout=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    try:
        if not wait_healthy(url, lambda: proc.poll() is None):
            _stop(proc)
            print(f"mashsim: error: app: the server did not start on {url} (is port {port} "
                  f"in use? try --port 0)", file=sys.stderr)
            return 2
        print(f"mashsim app: open {url} in a browser (Ctrl-C stops it)", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        _stop(proc)
        print("mashsim app: stopped", file=sys.stderr)
        return 130
    finally:
        _stop(proc)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()  # Streamlit stops cleanly; its job processes are cancelled at exit
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
