"""The circuit file format: validation, loading, saving, round trips, buckets."""

from __future__ import annotations

import json
import os

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from strategies import small_circuits

from do1rl.core import buckets, circuit_file, generators, limits
from do1rl.core.circuit import from_lists
from do1rl.core.circuit_file import CircuitFileError
from do1rl.core.reference import circuit_to_lists, evaluate
from do1rl.core.solver import solve

FMT = circuit_file.FORMAT
GOOD = {"format": FMT, "inputs": [1, 0, 1], "gates": [{"op": "OR", "in": [0, 1]}, {"op": "AND", "in": [3, 2]}]}


def with_gates(*gates, inputs=(1, 0)):
    return {"format": FMT, "inputs": list(inputs), "gates": list(gates)}


OR0 = {"op": "OR", "in": [0]}
AND0 = {"op": "AND", "in": [0]}

# (case id, file text or object, rule, gate index or None, words the message must contain)
MALFORMED = [
    ("top-level-array", [1, 2], "wrong-type", None, "top level"),
    ("format-missing", {"inputs": [1], "gates": [OR0]}, "bad-format", None, "format"),
    ("format-unknown", {**GOOD, "format": "do1rl.core.circuit/v2"}, "bad-format", None, "v2"),
    ("format-not-string", {**GOOD, "format": 1}, "bad-format", None, "format"),
    ("unknown-top-key", {**GOOD, "name": "x"}, "unknown-key", None, '"name"'),
    ("inputs-missing", {"format": FMT, "gates": [OR0]}, "missing-key", None, '"inputs"'),
    ("gates-missing", {"format": FMT, "inputs": [1]}, "missing-key", None, '"gates"'),
    ("inputs-not-list", {**GOOD, "inputs": "101"}, "wrong-type", None, '"inputs"'),
    ("no-inputs", {**GOOD, "inputs": []}, "no-inputs", None, "input"),
    ("bit-2", {**GOOD, "inputs": [1, 2, 0]}, "bad-bit", None, "input 1"),
    ("bit-negative", {**GOOD, "inputs": [-1, 0, 0]}, "bad-bit", None, "input 0"),
    ("bit-true", {**GOOD, "inputs": [1, 0, True]}, "bad-bit", None, "input 2"),
    ("bit-float", {**GOOD, "inputs": [1.0, 0, 1]}, "bad-bit", None, "input 0"),
    ("bit-string", {**GOOD, "inputs": [1, "0", 1]}, "bad-bit", None, "input 1"),
    ("bit-null", {**GOOD, "inputs": [1, 0, None]}, "bad-bit", None, "input 2"),
    ("gates-not-list", {**GOOD, "gates": {"op": "OR", "in": [0]}}, "wrong-type", None, '"gates"'),
    ("no-gates", {**GOOD, "gates": []}, "no-gates", None, "gate"),
    ("gate-not-object", with_gates(OR0, ["AND", [2]]), "wrong-type", 1, "object"),
    ("gate-unknown-key", with_gates(OR0, {"op": "AND", "in": [2], "negate": True}), "unknown-key", 1, "negate"),
    ("gate-op-missing", with_gates(OR0, {"in": [2]}), "missing-key", 1, '"op"'),
    ("gate-in-missing", with_gates(OR0, {"op": "AND"}), "missing-key", 1, '"in"'),
    ("op-lowercase", with_gates(OR0, {"op": "and", "in": [2]}), "bad-op", 1, "and"),
    ("op-xor", with_gates(OR0, {"op": "XOR", "in": [2]}), "bad-op", 1, "XOR"),
    ("op-not-string", with_gates({"op": 3, "in": [0]}), "bad-op", 0, "op"),
    ("in-not-list", with_gates(OR0, {"op": "AND", "in": 2}), "wrong-type", 1, '"in"'),
    ("in-float", with_gates(OR0, {"op": "AND", "in": [2.0]}), "wrong-type", 1, "2.0"),
    ("in-bool", with_gates(OR0, {"op": "AND", "in": [True]}), "wrong-type", 1, "true"),
    ("in-string", with_gates(OR0, {"op": "AND", "in": ["2"]}), "wrong-type", 1, '"2"'),
    ("empty-fanin", with_gates(OR0, {"op": "AND", "in": []}, OR0), "empty-fanin", 1, "fan-in"),
    ("id-too-large", with_gates(OR0, {"op": "AND", "in": [2, 4]}), "id-out-of-range", 1, "4"),
    ("id-negative", with_gates(OR0, {"op": "AND", "in": [-1]}), "id-out-of-range", 1, "-1"),
    ("self-reference", with_gates(OR0, {"op": "AND", "in": [0, 3]}), "self-reference", 1, "itself"),
    (
        "cycle-2",
        with_gates(AND0, {"op": "OR", "in": [4]}, {"op": "AND", "in": [3]}),
        "cycle",
        1,
        "gate 1 reads gate 2 reads gate 1",
    ),
    (
        "cycle-4",
        with_gates(
            {"op": "OR", "in": [0]},
            {"op": "AND", "in": [1, 6]},
            {"op": "OR", "in": [3]},
            {"op": "AND", "in": [4, 0]},
            {"op": "OR", "in": [5]},
            inputs=[1, 1],
        ),
        "cycle",
        1,
        "cycle: gate 1 reads gate 4 reads gate 3 reads gate 2 reads gate 1",
    ),
    ("fanin-past-limit", with_gates({"op": "AND", "in": [0] * (limits.MAX_FANIN + 1)}), "too-large", 0, "fan-in"),
    ("alternation-and-and", with_gates(AND0, {"op": "AND", "in": [1, 2]}), "alternation", 1, "AND gate reads AND gate 0 (node 2)"),
    ("alternation-or-or", with_gates(OR0, AND0, {"op": "OR", "in": [3, 2]}), "alternation", 2, "OR gate reads OR gate 0 (node 2)"),
    ("alternation-in-cycle", with_gates({"op": "OR", "in": [3]}, {"op": "OR", "in": [2]}), "alternation", 0, "alternation"),
    ("invalid-json", '{"format": "do1rl.circuit/v1", "inputs": [1],', "invalid-json", None, "line 1"),
    ("invalid-json-nan", '{"format": "do1rl.circuit/v1", "inputs": [NaN], "gates": []}', "invalid-json", None, "NaN"),
    ("empty-file", "", "invalid-json", None, "invalid JSON"),
    ("not-utf8", b"\xff\xfe\xfd", "invalid-json", None, "invalid"),
    (
        "duplicate-key",
        '{"format": "do1rl.circuit/v1", "inputs": [1], "gates": [{"op": "AND", "op": "OR", "in": [0]}]}',
        "duplicate-key",
        None,
        '"op"',
    ),
]


def write(tmp_path, name, content):
    path = tmp_path / f"{name}.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize("case,content,rule,gate,words", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_rejected(tmp_path, case, content, rule, gate, words):
    path = write(tmp_path, case, content)
    with pytest.raises(CircuitFileError) as info:
        circuit_file.load(path)
    err = info.value
    message = str(err)
    assert err.rule == rule
    assert err.gate == gate
    assert err.path == str(path)
    assert message.startswith(f"{path}: ")
    assert f"[{rule}]" in message
    if gate is not None:
        assert message.startswith(f"{path}: gate {gate}: ")
    assert words in message, message
    assert "\n" not in message
    assert isinstance(err, ValueError)


def test_every_rule_is_tested():
    tested = {m[2] for m in MALFORMED} | {"unreadable"}
    assert tested == set(circuit_file.RULES)


def test_unreadable(tmp_path):
    for path in (tmp_path / "missing.json", tmp_path):  # no such file; a directory
        with pytest.raises(CircuitFileError) as info:
            circuit_file.load(path)
        assert info.value.rule == "unreadable"
        assert str(path) in str(info.value)


def test_alternation_message_matches_doc_example():
    # One input (node 0); gates 0..3 are nodes 1..4: OR, AND, OR, AND.
    obj = with_gates(OR0, {"op": "AND", "in": [0]}, {"op": "OR", "in": [2]}, {"op": "AND", "in": [3, 4]}, inputs=[1])
    with pytest.raises(CircuitFileError, match="self-reference"):  # node 4 is gate 3 itself
        circuit_file.parse(obj, "x.json")
    obj["gates"][3]["in"] = [3, 2]  # AND gate 3 reads OR gate 2 (fine) and AND gate 1 (node 2)
    with pytest.raises(CircuitFileError) as info:
        circuit_file.parse(obj, "path/to/file.json")
    assert str(info.value) == ("path/to/file.json: gate 3: alternation violated: AND gate reads AND gate 1 (node 2) [alternation]")


def test_first_error_in_file_order():
    # Gate 0 breaks alternation, gate 2 has an empty fan-in: structure checks come first.
    obj = with_gates({"op": "AND", "in": [3]}, AND0, {"op": "OR", "in": []})
    with pytest.raises(CircuitFileError) as info:
        circuit_file.parse(obj)
    assert (info.value.rule, info.value.gate) == ("empty-fanin", 2)


def test_unsorted_valid_file_loads_and_solves(tmp_path):
    # Gates listed top first: gate 0 (AND, depth 3) reads gate 1 (OR, depth 2),
    # which reads gate 2 (AND, depth 1), which reads inputs 0 and 1.
    obj = {
        "format": FMT,
        "inputs": [1, 1, 0],
        "gates": [
            {"op": "AND", "in": [4, 0]},
            {"op": "OR", "in": [5, 2, 5]},
            {"op": "AND", "in": [0, 1]},
            {"op": "OR", "in": [2]},
        ],
    }
    path = write(tmp_path, "unsorted", obj)
    circuit, node_index = circuit_file.load(path)
    sol = jax.device_get(jax.jit(solve)(circuit))
    assert sol.depth[node_index].tolist() == [0, 0, 0, 3, 2, 1, 1]
    assert sol.value[node_index].tolist() == [True, True, False, True, True, True, False]
    assert int(sol.d1) == 3
    value, _depth, d1 = evaluate(obj["inputs"], [g["op"] for g in obj["gates"]], [g["in"] for g in obj["gates"]])
    assert sol.value[node_index].tolist() == value and int(sol.d1) == d1


def test_load_pads_to_requested_shape(tmp_path):
    path = write(tmp_path, "good", GOOD)
    circuit, _node_index = circuit_file.load(path, num_nodes=16, max_fanin=4, eval_width=2)
    assert circuit.node_type.shape == (16,) and circuit.fanin.shape == (16, 4)
    assert circuit.eval_width == 2
    assert int(solve(circuit).d1) == 2


@settings(deadline=None, max_examples=60)
@given(lists=small_circuits())
def test_round_trip(tmp_path_factory, lists):
    inputs, ops, fanins = lists
    circuit, _ = from_lists(inputs, ops, fanins, num_nodes=32, max_fanin=5, eval_width=2)
    obj = circuit_file.to_json(circuit)
    assert obj["format"] == FMT
    assert len(obj["inputs"]) == len(inputs) and len(obj["gates"]) == len(ops)  # padding dropped
    parsed = circuit_file.parse(json.loads(json.dumps(obj)))
    assert evaluate(*parsed)[2] == evaluate(inputs, ops, fanins)[2]
    # Through a file, and back to an equal circuit.
    path = tmp_path_factory.mktemp("rt") / "c.json"
    circuit_file.save(circuit, path)
    again, _ = circuit_file.load(path, num_nodes=32, max_fanin=5, eval_width=2)
    assert circuit_file.to_json(again) == obj
    assert os.listdir(path.parent) == ["c.json"]  # no temporary file left behind


def test_round_trip_generator_circuits(tmp_path):
    gens = [
        generators.RandomAlternating(n_inputs=5, depth=6, width=4, max_fanin=3, prefix_chain=3),
        generators.Chains(max_length=9),  # padded slots after the chain
    ]
    keys = jax.random.split(jax.random.key(1), 4)
    for gen in gens:
        batch = jax.device_get(jax.jit(jax.vmap(gen))(keys))
        for i in range(len(keys)):
            lists = circuit_to_lists(batch.node_type[i], batch.fanin[i])[:3]
            c = jax.tree.map(lambda x, i=i: x[i], batch)
            path = tmp_path / "g.json"
            circuit_file.save(c, path)
            parsed = circuit_file.read(path)
            assert tuple(parsed) == lists
            assert evaluate(*parsed)[2] == evaluate(*lists)[2]


def test_save_replaces_atomically(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("old")
    circuit_file.save(circuit_file.parse(GOOD), path)
    assert circuit_file.read(path) == circuit_file.parse(GOOD)
    assert sorted(os.listdir(tmp_path)) == ["c.json"]
    with pytest.raises(ValueError):  # a batch is not one circuit
        circuit_file.to_json(jax.tree.map(lambda x: x[None], circuit_file.load(path)[0]))


@pytest.mark.slow
@pytest.mark.parametrize("max_slots", [buckets.MAX_BATCH_SLOTS, 16 * 4 * 4])
def test_pad_bucket_and_solve_many(monkeypatch, max_slots):
    monkeypatch.setattr(buckets, "MAX_BATCH_SLOTS", max_slots)  # small: chunked buckets
    rng = np.random.default_rng(0)
    from strategies import random_lists

    parsed = [
        circuit_file.parse({"format": FMT, "inputs": i, "gates": [{"op": o, "in": f} for o, f in zip(ops, fs)]})
        for i, ops, fs in (random_lists(rng, 12, 4) for _ in range(60))
    ]
    groups = buckets.pad_bucket(parsed)
    assert sorted(i for b in groups for i in b.indices) == list(range(60))
    for b in groups:
        nodes, fanin, width = b.shape
        assert b.circuits.node_type.shape == (len(b.indices), nodes)
        assert b.circuits.fanin.shape == (len(b.indices), nodes, fanin)
        assert b.circuits.eval_width == width
        for x in b.shape:
            assert x & (x - 1) == 0
        assert nodes >= 8
    assert len(groups) < 20
    before = buckets.solve_batch._cache_size()
    solutions = buckets.solve_many(parsed)
    assert buckets.solve_batch._cache_size() - before <= len(groups)
    for p, sol in zip(parsed, solutions):
        value, depth, d1 = evaluate(*p)
        assert sol.value.tolist() == value and sol.depth.tolist() == depth and sol.d1 == d1
