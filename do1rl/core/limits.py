"""Limits on hostile input, and the helpers that enforce them before anything big is allocated.

Every limit is documented in docs/reliability.md and named by the error line
that enforces it. `read_regular` is the one bounded read of a user's file
(regular files only, size checked first); `show` is the one bounded repr
for error messages (never echoes unbounded input).
"""

from __future__ import annotations

import errno
import math
import os
import stat
from typing import Any

__all__ = [
    "MAX_CIRCUIT_BYTES",
    "MAX_CIRCUIT_FILES",
    "MAX_CONFIG_BYTES",
    "MAX_CONFIG_NODES",
    "MAX_EDGES",
    "MAX_EPISODES",
    "MAX_EVAL_CHUNK_BYTES",
    "MAX_EVAL_NODE_STEPS",
    "MAX_VECTOR_ENV_BYTES",
    "MAX_FANIN",
    "MAX_NODES",
    "MAX_PADDED_SLOTS",
    "MAX_NETWORK_DEPTH",
    "MAX_SEED",
    "MAX_TABLE_BYTES",
    "NODE_STEPS_PER_S",
    "MAX_SIMULATIONS",
    "InputError",
    "check_int",
    "check_float",
    "config_size",
    "cut",
    "describe_error",
    "file_kind",
    "read_regular",
    "read_stream",
    "show",
]

# Circuits (files and generated): checked before any array is built.
MAX_CIRCUIT_BYTES = 32 << 20  # bytes in one circuit file
MAX_NODES = 1 << 20  # inputs + gates
MAX_EDGES = 1 << 22  # sum of fan-in lengths
MAX_FANIN = 1 << 16  # longest fan-in
MAX_PADDED_SLOTS = 1 << 22  # nodes x longest fan-in (the padded fan-in table)
MAX_CIRCUIT_FILES = 4096  # files in one `circuit_files` pool
# Configs (YAML files and key=value overrides).
MAX_TABLE_BYTES = 256 << 20  # the d1-stratified biregular sampler's tables: O(depth^2 x width), about 20 s to build at the bound
# mlp layers, gnn message-passing blocks: each is unrolled into the trace, and the first trained iteration of a
# tiny `do1rl train` takes about 0.76 s more per gnn block on 2 cores (64: 51 s, 128: 108 s; the whole run 97 s and
# 285 s). Measurements: docs/reliability.md, "Network depth and compile time".
MAX_NETWORK_DEPTH = 64
MAX_CONFIG_BYTES = 1 << 20  # bytes in one config file
MAX_CONFIG_NODES = 100_000  # values in a config after YAML aliases are expanded
# Command-line and config numbers.
MAX_SEED = (1 << 32) - 1  # the largest seed (`checks.SEED`: jax.random.key keeps 32 bits without x64)
MAX_EPISODES = 10_000_000  # episodes of one evaluation
# Evaluations (`do1rl.evaluation.cost`): node updates before it starts, bytes of one chunk of episodes.
NODE_STEPS_PER_S = 3e8  # greedy on DO1 with a 100k-node chain, 2 CPU cores: 8e10 node-steps in 243 s
MAX_EVAL_NODE_STEPS = 1e11  # about 6 min at that rate; `do1rl eval --max-node-steps` raises it
MAX_EVAL_CHUNK_BYTES = 2 << 30  # episodes per compiled chunk are lowered to fit
MAX_VECTOR_ENV_BYTES = 8 << 30  # env states of `gymnasium.make_vec`'s copies
MAX_SIMULATIONS = 1 << 16  # MCTS simulations per decision (and max_considered)


class InputError(ValueError):
    """Input beyond a documented limit or of the wrong kind (one line, no traceback)."""


# ----------------------------------------------------------------------------
# Bounded repr.


def cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in "..." if it was longer."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show(x: Any, limit: int = 60) -> str:
    """A repr of `x` cut to about `limit` characters, safe on huge, deep or self-referencing values."""
    parts: list[str] = []
    budget = [limit + 1]

    def emit(text: str) -> bool:
        parts.append(text[: budget[0]])
        budget[0] -= len(text)
        return budget[0] > 0

    def walk(v: Any, depth: int) -> bool:
        if depth > 20:
            return emit("...")
        if isinstance(v, bool) or v is None:
            return emit(repr(v))
        if isinstance(v, int):
            if v.bit_length() > 200:
                digits = int(v.bit_length() * math.log10(2)) + 1
                return emit(f"<integer of about {digits} digits>")
            return emit(repr(v))
        if isinstance(v, (str, bytes)):
            return emit(repr(v[: budget[0] + 2]))
        if isinstance(v, (list, tuple, dict)):
            brackets = {list: "[]", tuple: "()", dict: "{}"}.get(type(v), "[]")
            opening, closing = brackets[0], brackets[1]
            if not emit(opening):
                return False
            items = v.items() if isinstance(v, dict) else v
            for i, item in enumerate(items):
                if i and not emit(", "):
                    return False
                if isinstance(v, dict):
                    if not (walk(item[0], depth + 1) and emit(": ") and walk(item[1], depth + 1)):
                        return False
                elif not walk(item, depth + 1):
                    return False
            return emit(closing)
        try:
            text = repr(v)
        except Exception:  # a repr that fails (e.g. a huge number type) still gets a line
            text = f"<{type(v).__name__}>"
        return emit(text)

    walk(x, 0)
    return cut("".join(parts), limit)


def describe_error(err: BaseException) -> str:
    """A short reason for a parser's ValueError (Python's int-digit limit gets a plain sentence)."""
    text = str(err)
    if "integer string conversion" in text:
        return "an integer of more than 4300 digits"
    return cut(text, 80)


# ----------------------------------------------------------------------------
# Numbers.


def check_int(value: Any, name: str, minimum: int, maximum: int) -> int:
    """`value` as an int in [minimum, maximum] (bools and floats refused), else InputError."""
    from do1rl.core.checks import is_integer

    if not is_integer(value) or not minimum <= value <= maximum:
        raise InputError(f"{name} must be an integer in {minimum}..{maximum}, got {show(value)}")
    return int(value)


def check_seed(value: Any, name: str = "seed") -> int:
    """`value` as a seed (`SEED`: one rule for configs, the CLI and the APIs), else InputError."""
    from do1rl.core.checks import SEED

    if not SEED.holds(value):
        raise InputError(f"{name} must be {SEED}, got {show(value)}")
    return int(value)


def check_float(value: Any, name: str, minimum: float = -math.inf, maximum: float = math.inf) -> float:
    """`value` as a finite float in [minimum, maximum] (bools, NaN and inf refused), else InputError."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        try:
            value = float(value)
        except OverflowError:
            ok = False
    if not ok or not math.isfinite(value) or not minimum <= value <= maximum:
        lo = "" if minimum == -math.inf else f" >= {minimum:g}"
        hi = "" if maximum == math.inf else f" <= {maximum:g}"
        sep = " and" if lo and hi else ""
        raise InputError(f"{name} must be a finite number{lo}{sep}{hi}, got {show(value)}")
    return value


def config_size(data: Any, limit: int = MAX_CONFIG_NODES) -> int:
    """Number of values in `data` with YAML aliases expanded; InputError past `limit`.

    Stops counting at the limit, so an alias bomb (or a self-referencing
    value) costs at most `limit` steps.
    """
    count = 0
    stack = [data]
    while stack:
        v = stack.pop()
        count += 1
        if count > limit:
            raise InputError(f"config too large: more than {limit} values once YAML aliases are expanded")
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return count


# ----------------------------------------------------------------------------
# Files.


def file_kind(mode: int) -> str:
    """'directory', 'FIFO', 'character device', ... for an `os.stat` mode."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def read_regular(path: str | os.PathLike, limit: int | None, what: str = "file") -> bytes:
    """The bytes of a regular file of at most `limit` bytes (None: any size).

    Opens without blocking (a FIFO is refused, not waited on), checks the
    kind and size before reading, and never reads more than `limit + 1`
    bytes. Raises InputError with the reason (without the path) for a
    missing, unreadable, special or too-large file.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise InputError(f"cannot read {what}: {err.strerror or errno.errorcode.get(err.errno or 0, err)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"cannot read {what}: {file_kind(info.st_mode)}, not a regular file")
        if limit is not None and info.st_size > limit:
            raise InputError(f"file too large: {info.st_size} bytes (limit {limit})")
        chunks = []
        size = 0
        cap = (limit if limit is not None else info.st_size) + 1
        while True:
            chunk = os.read(fd, min(1 << 20, cap - size) if limit is not None else 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if limit is not None and size > limit:
                raise InputError(f"file too large: more than {limit} bytes")
        return b"".join(chunks)
    except OSError as err:
        raise InputError(f"cannot read {what}: {err.strerror or err}") from None
    finally:
        os.close(fd)


def read_stream(stream, limit: int) -> bytes:
    """At most `limit` bytes of a binary stream (e.g. stdin); InputError if there are more."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"input too large: more than {limit} bytes")
    return data
