"""Kept so the documented path `mashsim.plan` keeps working: see `mashsim.experiment.plan`."""

from mashsim.experiment.plan import *  # noqa: F403
from mashsim.experiment.plan import __all__  # noqa: F401
