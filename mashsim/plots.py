"""Kept so the documented path `mashsim.plots` keeps working: see `mashsim.report.plots`."""

from mashsim.report.plots import *  # noqa: F403
from mashsim.report.plots import __all__  # noqa: F401
