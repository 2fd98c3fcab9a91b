"""Kept so the documented path `mashsim.stress` keeps working: see `mashsim.report.stress`."""

from mashsim.report.stress import *  # noqa: F403
from mashsim.report.stress import __all__  # noqa: F401
