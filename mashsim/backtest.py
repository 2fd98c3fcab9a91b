"""Kept so the documented path `mashsim.backtest` keeps working (see calibrate.backtest)."""

from mashsim.calibrate.backtest import *  # noqa: F403
from mashsim.calibrate.backtest import __all__  # noqa: F401
