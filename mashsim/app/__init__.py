"""`mashsim app`: a local what-if web page for MASH managers (optional extra `mashsim[app]`).

The page itself (`page.py`) is a Streamlit script; everything it computes lives in plain
modules that need no web framework, so they are tested directly:

- `whatif`: the controls a planner moves and the scenario overrides they make;
- `jobs`: runs in worker processes, with progress, cancel and a results cache;
- `compare`: baseline-versus-what-if tables and figures (paired CIs) and downloads;
- `launch`: starts Streamlit on 127.0.0.1 with telemetry off and prints the address.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SCENARIO_ENV", "page_path"]

# The scenario the page opens with (set by `mashsim app SCENARIO`; unset: the default).
SCENARIO_ENV = "MASHSIM_APP_SCENARIO"


def page_path() -> Path:
    """The Streamlit script that `streamlit run` is given."""
    return Path(__file__).resolve().parent / "page.py"
