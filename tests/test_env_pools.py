"""Pools of fixed circuits (`do1rl.envs.instances`): per-instance params under vmap, pools from circuit files."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from do1rl.core.circuit import from_lists
from do1rl.envs import DO1, AlternatingCircuit
from do1rl.envs.instances import per_instance_params, pool_from_circuits, pool_from_files


def keys(n, seed=0):
    return jax.random.split(jax.random.key(seed), n)


def _tiny_circuits():
    """Three hand-made circuits of different sizes, with known d1."""
    a, _ = from_lists([1, 0], ["OR", "AND"], [[0, 1], [2, 0]])  # OR=1 (d1), AND(OR, x0)=1 (d2)
    b, _ = from_lists([0], ["OR"], [[0]])  # d1 = 0
    c, _ = from_lists(
        [1, 1, 0], ["AND", "OR", "AND", "OR"], [[0, 1], [3], [4, 2], [5]]
    )  # AND=1 (1), OR=1 (2), AND(OR, x2)=0 (3), OR(AND)=0 (4): d1 = 2
    return [a, b, c], [2, 0, 2], [2, 1, 4]


def test_vmap_over_params_with_pool():
    circuits, d1s, depths = _tiny_circuits()
    pool = pool_from_circuits(circuits)
    assert pool.circuits.node_type.shape == (3, 7)
    env = DO1(pool)
    assert env.max_chain_length == 4
    lengths = jnp.array([1, 3, 1], jnp.int32)
    params = per_instance_params(pool, lengths)
    reset = jax.jit(jax.vmap(env.reset))
    _obs, states = reset(keys(3), params)
    s = jax.device_get(states)
    for i, c in enumerate(circuits):
        n = c.num_nodes
        assert (s.node_type[i, :n] == np.asarray(c.node_type)).all()
        assert (s.node_type[i, n : env.main_nodes] == 0).all()
        assert s.chain_length[i] == lengths[i]
        assert s.optimal_return[i] == max(d1s[i], int(lengths[i]))
        assert s.circuit_depth[i] == depths[i]
    # Steps vmap over params too (params are unused by step, but the batch must work).
    step = jax.jit(jax.vmap(env.step))
    actions = jnp.array([env.main_nodes + 1] * 3, jnp.int32)  # each chain's first gate
    _, states, _r, _d, _, info = step(keys(3), states, actions, params)
    assert not np.asarray(info["invalid_action"]).any()
    assert (np.asarray(states.chosen) == 1).all()
    # AlternatingCircuit over the same pool.
    alt = AlternatingCircuit(pool)
    _, st = jax.jit(jax.vmap(alt.reset))(keys(3), per_instance_params(pool))
    assert np.asarray(st.optimal_return).tolist() == d1s
    assert np.asarray(st.horizon).tolist() == [c.num_gates.item() for c in circuits]


def test_pool_from_files(tmp_path):
    circuit_file = pytest.importorskip("do1rl.core.circuit_file")
    texts = [
        '{"format": "do1rl.circuit/v1", "inputs": [1, 0], "gates": [{"op": "AND", "in": [3, 0]}, {"op": "OR", "in": [0, 1]}]}',
        '{"format": "do1rl.circuit/v1", "inputs": [0], "gates": [{"op": "OR", "in": [0]}]}',
    ]
    paths = []
    for i, text in enumerate(texts):
        p = tmp_path / f"c{i}.json"
        p.write_text(text)
        paths.append(p)
    pool = pool_from_files(paths)
    assert pool.circuits.node_type.shape[0] == 2
    env = AlternatingCircuit(pool)
    _, st = jax.jit(jax.vmap(env.reset))(keys(2), per_instance_params(pool))
    assert np.asarray(st.optimal_return).tolist() == [2, 0]
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "nope"}')
    with pytest.raises(circuit_file.CircuitFileError):
        pool_from_files([paths[0], bad])
