"""The `do1rl` command line: `do1rl SUBCOMMAND ...` (also `python -m do1rl`).

Subcommands live in `do1rl.cli.<name>`, each with
`add_arguments(parser)` and `run(args) -> int`. They are imported only when
`main` runs and import jax only inside `run`.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import signal
import sys
import threading
from collections.abc import Sequence

# name -> module in do1rl.cli. Each module has HELP, add_arguments, run.
COMMANDS = ("solve", "eval", "train", "sweep", "plot", "render", "config")
# Commands whose loops turn a signal into a checkpointed stop (`experiments.signals.StopFlag`, which needs the
# main thread); the others run in a worker thread, so that the main thread answers a signal at once.
OWN_SIGNALS = ("train", "sweep")


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


def _exit_on_signal(signum, frame) -> None:
    """SIGINT/SIGTERM outside a training loop (which saves first): one line, exit 130, no teardown.

    Exiting at once keeps a signal from surfacing as a traceback in a
    callback (a KeyboardInterrupt inside JAX's gc hook was printed and then
    ignored) or from crashing XLA's threads at interpreter exit. Every file
    do1rl writes is atomic, so nothing is left half-written.
    """
    with contextlib.suppress(OSError):
        os.write(2, f"interrupted ({signal.Signals(signum).name})\n".encode())
    os._exit(130)


def _as_program() -> None:
    """Process-wide set-up when `do1rl` runs as a program (not `main([...])` from Python)."""
    from do1rl.experiments import signals

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_on_signal)
    signals.exit_without_waiting()  # `main` ends the process at once after a stop that left XLA work running
    if sys.stdout is None:  # started with stdout closed (`do1rl ... >&-`): output goes nowhere, not to a crash
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (kept open for the process)


def _in_a_worker(run, args: argparse.Namespace) -> int:
    """`run(args)` in a worker thread while the main thread waits, free to answer SIGINT/SIGTERM.

    A Python signal handler runs only in the main thread, between bytecodes: a main thread inside one
    long XLA call (an evaluation compiled as one program) would answer only when the call returns.
    """
    result: dict = {}

    def work() -> None:
        try:
            result["status"] = run(args)
        except BaseException as err:  # re-raised in the main thread, which reports it
            result["error"] = err

    worker = threading.Thread(target=work, name=f"do1rl-{args.command}", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.05)
    if "error" in result:
        raise result["error"]
    return result["status"]


def _exit_if_work_was_abandoned(status: int) -> None:
    """After a training stop that left a chunk running in XLA (it cannot be cancelled): exit now, not after it."""
    from do1rl.experiments.signals import abandoned_work

    if abandoned_work():
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


def _quiet_stdout() -> None:
    """Points stdout at /dev/null, so the exit-time flush of unwritable output raises nothing."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status (argparse errors: 2).

    Run as a program (`argv` None), SIGINT and SIGTERM end it at once with
    one line and exit 130, except inside `do1rl train`'s loop, which saves a
    checkpoint first (docs/reliability.md).
    """
    if argv is None:
        _as_program()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    try:
        program_answers = argv is None and args.command not in OWN_SIGNALS
        status = int(_in_a_worker(args._run, args) if program_answers else args._run(args))
        if argv is None:
            _exit_if_work_was_abandoned(status)
        return status
    except KeyboardInterrupt:  # e.g. a second signal during a training stop
        print("interrupted", file=sys.stderr)
        if argv is None:
            _exit_if_work_was_abandoned(130)
        return 130
    except MemoryError:  # a last resort: the documented limits should refuse such input first
        print("error: out of memory (see docs/reliability.md for the size limits)", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (e.g. `do1rl solve ... | head`): stop quietly.
        _quiet_stdout()
        return 1
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EIO):
            raise
        print(f"error: cannot write ({err.strerror})", file=sys.stderr)  # e.g. stdout is /dev/full
        _quiet_stdout()
        return 1


if __name__ == "__main__":
    sys.exit(main())
