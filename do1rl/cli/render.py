"""`do1rl render FILE [--out x.png|x.svg]`: draw a circuit file.

The circuit (C, x) is drawn layer by layer with its gate values and
d1(C, x), as `render_mode="rgb_array"` draws a terminated episode; without
`--out` the text view (`render_mode="ansi"`) is printed. A bad file or an
unknown output suffix prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

HELP = "draw a circuit file (PNG, SVG or PDF; text without --out)"
SUFFIXES = (".png", ".svg", ".pdf")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a circuit file in the do1rl.circuit/v1 JSON format")
    parser.add_argument("--out", metavar="PATH", help=f"output picture ({', '.join(SUFFIXES)}); text on stdout if omitted")
    parser.add_argument("--hide-values", action="store_true", help="do not show gate values and d1")


def run(args: argparse.Namespace) -> int:
    from do1rl.core.circuit_file import CircuitFileError

    if args.out is not None and Path(args.out).suffix.lower() not in SUFFIXES:
        print(f"error: --out {args.out}: the suffix must be one of {', '.join(SUFFIXES)}", file=sys.stderr)
        return 2
    try:
        state = _file_state(args.file)
    except (CircuitFileError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from do1rl.core import atomic
    from do1rl.envs import render

    show = not args.hide_values
    if args.out is None:
        sys.stdout.write(render.ansi(state, show_values=show))
        return 0
    fig = render.figure(state, show_values=show, title=Path(args.file).name)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(args.out).suffix.lower()[1:])
    atomic.write_bytes(args.out, buffer.getvalue())
    print(f"wrote {args.out}")
    return 0


def _file_state(path: str):
    """The first state of an AlternatingCircuit episode on the circuit in `path`."""
    import jax

    from do1rl.envs.alternating import AlternatingCircuit
    from do1rl.envs.instances import pool_from_files

    env = AlternatingCircuit(pool_from_files([path]))
    _, state = env.reset(jax.random.key(0))
    return jax.device_get(state)
