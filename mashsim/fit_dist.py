"""Kept so the documented path `mashsim.fit_dist` keeps working (see calibrate.fit_dist)."""

from mashsim.calibrate.fit_dist import *  # noqa: F403
from mashsim.calibrate.fit_dist import __all__  # noqa: F401
