"""The `do1rl` command line: `do1rl SUBCOMMAND ...` (also `python -m do1rl`).

Subcommands live in `do1rl.cli.<name>`, each with
`add_arguments(parser)` and `run(args) -> int`. They are imported only when
`main` runs and import jax only inside `run`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# name -> module in do1rl.cli. Each module has HELP, add_arguments, run.
COMMANDS = ("solve", "eval", "train", "sweep", "plot", "render", "config")


def build_parser() -> argparse.ArgumentParser:
    from do1rl.cli._args import OneLineParser

    parser = OneLineParser(
        prog="do1rl",
        description="The DO1 environment and serial decision making, in JAX.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"do1rl.cli.{name}")
        doc = (module.__doc__ or "").strip()
        command = sub.add_parser(
            name,
            help=getattr(module, "HELP", None),
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def _version() -> str:
    from do1rl import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status (argparse errors: 2)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:  # a last resort: the documented limits should refuse such input first
        print("error: out of memory (see docs/reliability.md for the size limits)", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (e.g. `do1rl solve ... | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
