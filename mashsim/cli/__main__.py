"""`python -m mashsim.cli`: the `mashsim` command."""

import sys

from mashsim.cli import main

sys.exit(main())
