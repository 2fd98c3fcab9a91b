"""`python -m mashsim`: the `mashsim` command."""

import sys

from mashsim.cli import main

sys.exit(main())
