"""Kept so the documented path `mashsim.fit` keeps working: see `mashsim.calibrate.fit`."""

from mashsim.calibrate.fit import *  # noqa: F403
from mashsim.calibrate.fit import __all__  # noqa: F401
