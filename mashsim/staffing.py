"""Kept so the documented path `mashsim.staffing` keeps working: see `mashsim.model.staffing`."""

from mashsim.model.staffing import *  # noqa: F403
from mashsim.model.staffing import __all__  # noqa: F401
