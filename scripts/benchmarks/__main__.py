"""`python -m benchmarks` (from scripts/): the benchmarks' command line."""

import sys

from .cli import main

sys.exit(main())
