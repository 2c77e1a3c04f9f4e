"""`do1rl solve FILE...`: the exact answer for circuit files.

Prints one JSON object per valid file, in the order given:
`{"file", "do1", "depth", "gates", "inputs", "serial_steps", "cert_d1"}`
where `do1` is d1(C, x) (the optimal value of the alternating-circuit
environment), `depth` the circuit depth and `cert_d1` the certificate depth
of d1 (the fewest fan-in hops that prove d1 from the inputs; see
docs/hard-instances.md). An invalid file prints one line on stderr,
`error: PATH: [gate I: ]WHAT [RULE]`, naming the file, the gate and the rule
broken, and the other files are still solved; the exit status is then 2,
else 0. `-` reads standard input. Files are grouped into shape buckets so
that many files compile the solver once per bucket, not once per file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HELP = "solve circuit files exactly (d1 and depth per file)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help='circuit files in the do1rl.circuit/v1 JSON format ("-" reads stdin)',
    )


def _read(name: str):
    from do1rl.core import circuit_file, limits

    if name == "-":  # labelled "-" in errors and results alike
        try:
            data = limits.read_stream(sys.stdin.buffer, limits.MAX_CIRCUIT_BYTES)
        except limits.InputError as e:
            raise circuit_file.CircuitFileError(name, "too-large", str(e)) from None
        except OSError as e:
            raise circuit_file.CircuitFileError(name, "unreadable", f"cannot read: {e.strerror or e}") from None
        return circuit_file.loads(data, name)
    return circuit_file.read(name)


def run(args: argparse.Namespace) -> int:
    from do1rl.core import buckets, circuit_file

    names: list[str] = list(args.files)
    parsed = []
    valid_names = []
    failed = 0
    for name in names:
        try:
            parsed.append(_read(name))
        except circuit_file.CircuitFileError as e:
            print(f"error: {e}", file=sys.stderr)
            failed += 1
            continue
        valid_names.append(name)

    solutions = buckets.solve_many(parsed) if parsed else []
    try:
        return _print(valid_names, parsed, solutions, failed)
    except BrokenPipeError:
        raise  # the reader went away: `cli.main` stops quietly
    except OSError as err:  # e.g. `solve ... > /dev/full`
        return _write_failed(err)


def _print(valid_names, parsed, solutions, failed: int) -> int:
    out = sys.stdout
    for name, circuit, sol in zip(valid_names, parsed, solutions):
        record = {
            "file": name,
            "do1": int(sol.d1),
            "depth": int(sol.depth.max()),
            "gates": circuit.num_gates,
            "inputs": circuit.num_inputs,
            "serial_steps": int(sol.serial_steps),
            "cert_d1": int(sol.cert_d1),
        }
        out.write(json.dumps(record) + "\n")
    out.flush()
    return 2 if failed else 0


def _write_failed(err: OSError) -> int:
    print(f"error: cannot write results to standard output: {err.strerror or err}", file=sys.stderr)
    try:  # drop what is left in the buffer, so exit does not try (and fail) again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return 2
