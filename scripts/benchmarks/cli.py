"""Command line: run the chosen areas, print each figure as it comes, write the report after a full run."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import compile_time, env, mcts, peers, solver, training
from .harness import load_average, machine, versions
from .notes import judge
from .report import write

# The areas in the order they run (compile before training, so nothing compiled earlier in the process helps it).
AREAS = {
    "solver": solver,
    "env": env,
    "compile": compile_time,
    "training": training,
    "peers": peers,
    "mcts": mcts,
}
# The report's part numbers, also accepted by --parts.
PARTS = {"1": ("solver",), "2": ("env",), "3": ("training", "peers"), "4": ("mcts",), "5": ("compile",)}

EPILOG = """\
areas (--parts takes names or part numbers, comma-separated):
  solver    part 1: solver paths against NumPy and Python, memory bandwidth
  env       part 2: env steps/s, batched resets, auto-reset rollouts
  training  part 3: PPO per network family, matmul peak
  peers     part 3: do1rl PPO against SB3 MaskablePPO and rejax PPO (times the mlp run too when alone)
  mcts      part 4: do1rl's search against mctx's
  compile   part 5: compile time of the default training config

examples:
  python scripts/bench.py                  full run, writes docs/benchmarks.{json,md}
  python scripts/bench.py --smoke          tiny sizes, what CI runs (writes nothing)
  python scripts/bench.py --parts solver   one area, printed only
  cd scripts && python -m benchmarks --parts 3,mcts --smoke
"""


def parse_areas(text: str) -> list[str]:
    """Area names from a comma-separated list of names and part numbers, in run order."""
    chosen = set()
    for item in (p.strip() for p in text.split(",")):
        if item in PARTS:
            chosen.update(PARTS[item])
        elif item in AREAS:
            chosen.add(item)
        elif item:
            raise argparse.ArgumentTypeError(f"unknown area {item!r}: one of {', '.join(AREAS)} or a part number 1-5")
    return [name for name in AREAS if name in chosen]


def main(argv=None) -> int:
    """Run the benchmarks; 1 when the solver disagrees with its references."""
    parser = argparse.ArgumentParser(
        prog="bench.py",
        description="do1rl benchmarks: solver, environment, training, MCTS and compile time, against targets.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI (writes nothing)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure, after a warm-up (--smoke: 2)")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder for benchmarks.json and benchmarks.md")
    parser.add_argument(
        "--parts",
        type=parse_areas,
        default="1,2,3,4,5",
        help="comma-separated areas or part numbers to run (full reports need all; see below)",
    )
    args = parser.parse_args(argv)
    repeats = 2 if args.smoke else args.repeats
    start = time.perf_counter()
    load_before = load_average()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {msg}", flush=True)

    report: dict = {"smoke": args.smoke, "repeats": repeats}
    for name in args.parts:
        report.update(AREAS[name].run(report, args.smoke, repeats, log))
    report["machine"] = machine(load_before)
    report["versions"] = versions()
    report["targets"] = judge(report)
    for key, t in report["targets"].items():
        shown = "-" if t["value"] is None else f"{t['value']:.3g}"
        log(f"target {key}: {shown} (target {t['target']}): {t['result']}")
    log(f"total {time.perf_counter() - start:.1f}s")

    if not args.smoke:
        if args.parts != list(AREAS):
            print("not writing docs/: a partial run (--parts) is printed only", file=sys.stderr)
        else:
            write(report, args.out)
    if "solver" in args.parts and not all(s["agree"] for s in report["solver"].values()):
        print("error: solver disagrees with the NumPy or Python reference", file=sys.stderr)
        return 1
    return 0
