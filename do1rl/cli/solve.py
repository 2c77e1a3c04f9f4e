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
    from do1rl.core import circuit_file

    if name == "-":
        return circuit_file.loads(sys.stdin.buffer.read(), "<stdin>")
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
