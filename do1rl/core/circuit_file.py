"""Circuit files: the JSON format `do1rl.circuit/v1` <-> `Circuit`, strictly validated.

A broken rule raises `CircuitFileError`: one line naming the file, the gate
and the rule (`CircuitFileError.rule`). The format is in docs/spec.md; the
rules beyond it, the rule slugs and the size limits are in
docs/design/circuit-files.md. (One module on purpose, past 400 lines: the
validation passes read in the order they run.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from do1rl.core import atomic, limits
from do1rl.core import circuit as circuit_lib
from do1rl.core.checks import is_integer
from do1rl.core.circuit import AND, INPUT_0, INPUT_1, OR, Circuit

FORMAT = "do1rl.circuit/v1"
OPS = ("AND", "OR")
_TOP_KEYS = ("format", "inputs", "gates")
_GATE_KEYS = ("op", "in")

RULES = (
    "unreadable",
    "invalid-json",
    "duplicate-key",
    "wrong-type",
    "bad-format",
    "missing-key",
    "unknown-key",
    "no-inputs",
    "no-gates",
    "bad-bit",
    "bad-op",
    "empty-fanin",
    "id-out-of-range",
    "self-reference",
    "alternation",
    "cycle",
    "too-large",
)


class CircuitFileError(ValueError):
    """A circuit file that breaks a rule of the format.

    Attributes:
      path: the file (or "<memory>" for an object parsed in memory).
      gate: index into the file's `gates` list, or None when the error is
        not about one gate.
      rule: a short stable slug, one of `RULES`.
      detail: the description without the path and gate prefix.

    `str(error)` is one line: `PATH: gate I: DETAIL [RULE]`, or
    `PATH: DETAIL [RULE]` when `gate` is None.
    """

    def __init__(self, path: str, rule: str, detail: str, gate: int | None = None):
        assert rule in RULES, rule
        self.path = str(path)
        self.rule = rule
        self.gate = gate
        self.detail = detail
        where = f"{self.path}: " + (f"gate {gate}: " if gate is not None else "")
        super().__init__(f"{where}{detail} [{rule}]")

    def __reduce__(self):  # keep pickling (e.g. across processes) working
        return (type(self), (self.path, self.rule, self.detail, self.gate))


class ParsedCircuit(NamedTuple):
    """A validated circuit in the file's numbering.

    Attributes:
      inputs: the input bits, 0 or 1.
      ops: "AND" or "OR" for every gate, in file order.
      fanins: the node ids each gate reads, in file order.
    """

    inputs: list[int]
    ops: list[str]
    fanins: list[list[int]]

    @property
    def num_inputs(self) -> int:
        return len(self.inputs)

    @property
    def num_gates(self) -> int:
        return len(self.ops)

    def to_circuit(self, **padding) -> tuple[Circuit, np.ndarray]:
        """`circuit.from_lists` on these lists (keyword args pad the shape)."""
        return circuit_lib.from_lists(self.inputs, self.ops, self.fanins, **padding)


# ----------------------------------------------------------------------------
# Validation.


def _json_type(x: Any) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, (int, float)):
        return "number"
    if isinstance(x, str):
        return "string"
    if isinstance(x, (list, tuple)):
        return "array"
    if isinstance(x, dict):
        return "object"
    return type(x).__name__


def _show(x: Any, limit: int = 40) -> str:
    """`x` in JSON spelling, cut to `limit` characters (safe on huge or deep values)."""
    if isinstance(x, str) and len(x) <= limit:
        return json.dumps(x)
    if isinstance(x, bool) or x is None:
        return json.dumps(x)
    return limits.show(x, limit)


def parse(obj: Any, path: str = "<memory>") -> ParsedCircuit:
    """Validates a decoded JSON object and returns its circuit lists.

    Raises:
      CircuitFileError: for the first rule the object breaks.
    """
    path = str(path)

    def fail(rule: str, detail: str, gate: int | None = None):
        raise CircuitFileError(path, rule, detail, gate)

    if not isinstance(obj, dict):
        fail("wrong-type", f"top level must be an object, got {_json_type(obj)}")
    if "format" not in obj:
        fail("bad-format", f'missing "format" (expected "{FORMAT}")')
    if obj["format"] != FORMAT:
        fail("bad-format", f'unknown format {_show(obj["format"])} (expected "{FORMAT}")')
    for key in obj:
        if key not in _TOP_KEYS:
            fail("unknown-key", f"unknown top-level key {_show(key)} (allowed: format, inputs, gates)")
    for key in ("inputs", "gates"):
        if key not in obj:
            fail("missing-key", f'missing "{key}"')

    inputs = obj["inputs"]
    if not isinstance(inputs, list):
        fail("wrong-type", f'"inputs" must be an array, got {_json_type(inputs)}')
    if not inputs:
        fail("no-inputs", "a circuit needs at least one input")
    if len(inputs) > limits.MAX_NODES:
        fail("too-large", f"{len(inputs)} inputs: more than the limit of {limits.MAX_NODES} nodes")
    for i, bit in enumerate(inputs):
        if not is_integer(bit) or bit not in (0, 1):
            fail("bad-bit", f"input {i}: bit must be the integer 0 or 1, got {_show(bit)}")

    gates = obj["gates"]
    if not isinstance(gates, list):
        fail("wrong-type", f'"gates" must be an array, got {_json_type(gates)}')
    if not gates:
        fail("no-gates", "a circuit needs at least one gate")

    n, m = len(inputs), len(gates)
    total = n + m
    if total > limits.MAX_NODES:
        fail("too-large", f"{total} nodes ({n} inputs, {m} gates): more than the limit of {limits.MAX_NODES} nodes")
    edges = widest = 0
    ops: list[str] = []
    fanins: list[list[int]] = []
    # Pass 1: each gate on its own.
    for g, gate in enumerate(gates):
        if not isinstance(gate, dict):
            fail("wrong-type", f"gate must be an object, got {_json_type(gate)}", g)
        for key in gate:
            if key not in _GATE_KEYS:
                fail("unknown-key", f"unknown key {_show(key)} (allowed: op, in)", g)
        for key in _GATE_KEYS:
            if key not in gate:
                fail("missing-key", f'missing "{key}"', g)
        op = gate["op"]
        if not isinstance(op, str) or op not in OPS:
            fail("bad-op", f'op must be "AND" or "OR", got {_show(op)}', g)
        fanin = gate["in"]
        if not isinstance(fanin, list):
            fail("wrong-type", f'"in" must be an array of node ids, got {_json_type(fanin)}', g)
        if not fanin:
            fail("empty-fanin", "empty fan-in: a gate must read at least one node", g)
        if len(fanin) > limits.MAX_FANIN:
            fail("too-large", f"fan-in of {len(fanin)}: more than the limit of {limits.MAX_FANIN}", g)
        edges += len(fanin)
        widest = max(widest, len(fanin))
        if edges > limits.MAX_EDGES:
            fail("too-large", f"more than the limit of {limits.MAX_EDGES} edges (fan-in entries) in all", g)
        if total * widest > limits.MAX_PADDED_SLOTS:
            fail(
                "too-large",
                f"{total} nodes x fan-in {widest} = {total * widest} padded fan-in slots: more than the limit of {limits.MAX_PADDED_SLOTS}",
                g,
            )
        for src in fanin:
            if not is_integer(src):
                fail("wrong-type", f'"in" must hold integer node ids, got {_show(src)}', g)
            if not 0 <= src < total:
                fail(
                    "id-out-of-range",
                    f"node id {_show(src)} out of range: valid ids are 0..{total - 1} ({n} inputs, {m} gates)",
                    g,
                )
            if src == n + g:
                fail("self-reference", f"gate reads itself (node {src})", g)
        ops.append(op)
        fanins.append(list(fanin))

    # Pass 2: alternation. Inputs may feed any gate.
    for g in range(m):
        for src in fanins[g]:
            if src >= n and ops[src - n] == ops[g]:
                fail(
                    "alternation",
                    f"alternation violated: {ops[g]} gate reads {ops[src - n]} gate {src - n} (node {src})",
                    g,
                )

    # Pass 3: cycles.
    cycle = _find_cycle(n, fanins)
    if cycle is not None:
        chain = " reads ".join(f"gate {c}" for c in cycle + [cycle[0]])
        fail("cycle", f"cycle: {chain}", cycle[0])
    return ParsedCircuit(inputs=list(inputs), ops=ops, fanins=fanins)


def _find_cycle(n: int, fanins: Sequence[Sequence[int]]) -> list[int] | None:
    """A cycle of gates (gate indices, in read order), or None if acyclic.

    The cycle is rotated to start at its smallest gate index, and the search
    starts from gate 0, so the answer is deterministic.
    """
    m = len(fanins)
    state = [0] * m  # 0 unvisited, 1 on the current path, 2 done
    for root in range(m):
        if state[root]:
            continue
        path = [root]
        cursor = [0]
        state[root] = 1
        while path:
            g = path[-1]
            reads = fanins[g]
            if cursor[-1] < len(reads):
                src = reads[cursor[-1]]
                cursor[-1] += 1
                if src < n:
                    continue
                h = src - n
                if state[h] == 1:
                    cycle = path[path.index(h) :]
                    k = cycle.index(min(cycle))
                    return cycle[k:] + cycle[:k]
                if state[h] == 0:
                    state[h] = 1
                    path.append(h)
                    cursor.append(0)
            else:
                state[g] = 2
                path.pop()
                cursor.pop()
    return None


# ----------------------------------------------------------------------------
# Files.


def _reject_duplicate_keys(path: str):
    def hook(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise CircuitFileError(path, "duplicate-key", f"key {_show(key)} appears twice in one object")
            seen[key] = value
        return seen

    return hook


def _reject_constant(path: str):
    def hook(name):
        raise CircuitFileError(path, "invalid-json", f"invalid JSON: {name} is not a JSON value")

    return hook


def loads(text: str | bytes, path: str = "<memory>") -> ParsedCircuit:
    """Decodes and validates the text of a circuit file."""
    path = str(path)
    if len(text) > limits.MAX_CIRCUIT_BYTES:
        raise CircuitFileError(path, "too-large", f"file too large: more than {limits.MAX_CIRCUIT_BYTES} bytes")
    try:
        obj = json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys(path),
            parse_constant=_reject_constant(path),
        )
    except CircuitFileError:
        raise
    except UnicodeDecodeError as e:
        raise CircuitFileError(path, "invalid-json", f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise CircuitFileError(path, "invalid-json", f"invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise CircuitFileError(path, "invalid-json", "invalid JSON: nested too deeply") from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise CircuitFileError(path, "invalid-json", f"invalid JSON: {limits.describe_error(e)}") from None
    return parse(obj, path)


def read(path: str | os.PathLike) -> ParsedCircuit:
    """Reads and validates one circuit file."""
    name = os.fspath(path)
    try:
        data = limits.read_regular(name, limits.MAX_CIRCUIT_BYTES)
    except limits.InputError as e:
        rule = "too-large" if "too large" in str(e) else "unreadable"
        raise CircuitFileError(name, rule, str(e)) from None
    return loads(data, name)


def load(path: str | os.PathLike, **padding) -> tuple[Circuit, np.ndarray]:
    """Reads a circuit file into a `Circuit`.

    Keyword arguments (`num_nodes`, `max_fanin`, `eval_width`) pad the shape
    as in `circuit.from_lists`.

    Returns:
      (circuit, node_index): node_index[i] is the slot of file node id i.
    """
    return read(path).to_circuit(**padding)


def to_lists(circuit: Circuit) -> ParsedCircuit:
    """The file-numbered lists of an unbatched `Circuit`, padding dropped.

    Inputs keep their slot order, gates their slot order (which is a
    topological order). Raises ValueError for a batched circuit or a fan-in
    that points at padding.
    """
    node_type = np.asarray(circuit.node_type)
    fanin = np.asarray(circuit.fanin)
    if node_type.ndim != 1:
        raise ValueError(f"to_json needs one circuit, got a batch of shape {node_type.shape}")
    input_slots = np.flatnonzero((node_type == INPUT_0) | (node_type == INPUT_1))
    gate_slots = np.flatnonzero((node_type == AND) | (node_type == OR))
    new_id = np.full(node_type.shape[0], -1, np.int64)
    new_id[input_slots] = np.arange(len(input_slots))
    new_id[gate_slots] = len(input_slots) + np.arange(len(gate_slots))
    inputs = [int(t == INPUT_1) for t in node_type[input_slots]]
    ops = ["AND" if t == AND else "OR" for t in node_type[gate_slots]]
    fanins = []
    for slot in gate_slots:
        srcs = fanin[slot][fanin[slot] >= 0]
        ids = new_id[srcs]
        if np.any(ids < 0):
            raise ValueError(f"gate in slot {slot} reads a padding slot")
        fanins.append([int(i) for i in ids])
    return ParsedCircuit(inputs=inputs, ops=ops, fanins=fanins)


def to_json(circuit: Circuit | ParsedCircuit) -> dict:
    """The `do1rl.circuit/v1` object of a circuit (padding dropped).

    The result is validated, so it always loads back; an invalid circuit
    raises CircuitFileError (path "<circuit>").
    """
    lists = circuit if isinstance(circuit, ParsedCircuit) else to_lists(circuit)
    obj = {
        "format": FORMAT,
        "inputs": list(lists.inputs),
        "gates": [{"op": op, "in": list(f)} for op, f in zip(lists.ops, lists.fanins)],
    }
    parse(obj, "<circuit>")
    return obj


def dumps(obj: dict) -> str:
    """Circuit-file text: one gate per line, compact otherwise."""
    lines = [
        "{" + f'"format": {json.dumps(obj["format"])},',
        f' "inputs": {json.dumps(obj["inputs"], separators=(",", ":"))},',
        ' "gates": [',
    ]
    gates = [json.dumps(g, separators=(", ", ": ")) for g in obj["gates"]]
    lines.extend("  " + g + ("," if i + 1 < len(gates) else "") for i, g in enumerate(gates))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def save(circuit: Circuit | ParsedCircuit, path: str | os.PathLike) -> None:
    """Writes a circuit file atomically (see `do1rl.core.atomic`)."""
    atomic.write_text(path, dumps(to_json(circuit)))
