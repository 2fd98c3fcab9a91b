"""Kept so the documented path `mashsim.sweep` keeps working: see `mashsim.experiment.sweep`."""

from mashsim.experiment.sweep import *  # noqa: F403
from mashsim.experiment.sweep import __all__  # noqa: F401
