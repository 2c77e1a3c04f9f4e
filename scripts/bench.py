"""do1rl benchmarks: the entry point of the `benchmarks` package beside it (`python scripts/bench.py --help`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmarks.cli import main

if __name__ == "__main__":
    sys.exit(main())
