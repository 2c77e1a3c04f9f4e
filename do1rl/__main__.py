"""`python -m do1rl`: the `do1rl` command line."""

import sys

from do1rl.cli import main

sys.exit(main())
