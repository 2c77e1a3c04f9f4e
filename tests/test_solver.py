"""The JAX solver against the plain-Python reference evaluator."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solver_checks import assert_matches_reference
from strategies import random_lists, small_circuits

from do1rl.core import generators
from do1rl.core.circuit import from_lists, stack
from do1rl.core.reference import circuit_to_lists
from do1rl.core.solver import optimal_value, solve

NODES, FANIN = 64, 4  # every test circuit is padded to this one shape
BATCH = 64
WIDTHS = (1, 3, 16)  # eval_width values: at most one compilation each


@pytest.fixture(scope="session")
def solve_batch():
    return jax.jit(jax.vmap(solve))


@pytest.fixture(scope="session")
def generator_lists():
    """Chains and chain-prefixed circuits from the generators, as lists."""
    out = []
    keys = jax.random.split(jax.random.key(0), 24)
    chains = jax.device_get(jax.jit(jax.vmap(generators.chain, in_axes=(0, None)), static_argnums=1)(jnp.array([1, 2, 7, 30, 63]), 63))
    for i in range(5):
        c = jax.tree.map(lambda x, i=i: x[i], chains)
        out.append(circuit_to_lists(np.asarray(c.node_type), np.asarray(c.fanin))[:3])
    gens = [
        generators.RandomAlternating(n_inputs=4, depth=6, width=4, max_fanin=3, prefix_chain=5),
        generators.RandomAlternating(n_inputs=3, depth=5, width=3, max_fanin=3, prefix_chain=1),
        generators.RandomAlternating(n_inputs=5, depth=8, width=5, max_fanin=4),
    ]
    for gen in gens:
        batch = jax.device_get(jax.jit(jax.vmap(gen))(keys[:8]))
        for i in range(8):
            out.append(circuit_to_lists(batch.node_type[i], batch.fanin[i])[:3])
    return out


def check_batch(solve_batch, lists, eval_width):
    built = [from_lists(*c, num_nodes=NODES, max_fanin=FANIN, eval_width=eval_width) for c in lists]
    sol = jax.device_get(solve_batch(stack([c for c, _ in built])))
    assert_matches_reference(sol, lists, [node_index for _, node_index in built], eval_width)


@settings(deadline=None, max_examples=80)  # about 5,000 circuits
@given(
    first=small_circuits(),
    seed=st.integers(0, 2**32 - 1),
    eval_width=st.sampled_from(WIDTHS),
    n_gen=st.integers(0, 8),
)
def test_solver_matches_reference(solve_batch, generator_lists, first, seed, eval_width, n_gen):
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(generator_lists), n_gen, replace=False)
    lists = [first] + [generator_lists[i] for i in picks]
    lists += [random_lists(rng, NODES, FANIN) for _ in range(BATCH - len(lists))]
    check_batch(solve_batch, lists, eval_width)


def test_generator_circuits_all(solve_batch, generator_lists):
    for start in range(0, len(generator_lists), BATCH):
        chunk = generator_lists[start : start + BATCH]
        chunk = chunk + [chunk[-1]] * (BATCH - len(chunk))
        check_batch(solve_batch, chunk, 16)


def test_hand_examples(solve_batch):
    cases = [
        # (inputs, ops, fanins, d1)
        ([1, 0, 1], ["OR", "AND"], [[0, 1], [3, 2]], 2),  # the spec's example
        ([0], ["AND"], [[0]], 0),  # no gate outputs 1
        ([1], ["OR", "AND", "OR"], [[0], [1], [2]], 3),  # chain of 3
        ([1, 0], ["AND", "OR"], [[3, 0], [1]], 0),  # unsorted: gate 0 reads gate 1 (value 0)
        ([1, 0], ["AND", "OR"], [[3, 3], [0, 0]], 2),  # duplicate ids
    ]
    lists = [c[:3] for c in cases]
    lists += [lists[0]] * (BATCH - len(lists))
    check_batch(solve_batch, lists, 3)
    built = [from_lists(*c[:3], num_nodes=NODES, max_fanin=FANIN, eval_width=3)[0] for c in cases]
    d1 = solve_batch(stack(built)).d1
    assert d1.tolist() == [c[3] for c in cases]


def _random_batch(seed, count, eval_width=3):
    rng = np.random.default_rng(seed)
    lists = [random_lists(rng, NODES, FANIN) for _ in range(count)]
    return [from_lists(*c, num_nodes=NODES, max_fanin=FANIN, eval_width=eval_width)[0] for c in lists]


def test_jit_equals_no_jit():
    circuits = _random_batch(1, 4)
    jitted = jax.jit(solve)
    for c in circuits:
        fast = jax.device_get(jitted(c))
        with jax.disable_jit():
            slow = jax.device_get(solve(c))
        chex.assert_trees_all_equal(fast, slow)


def test_vmap_equals_loop(solve_batch):
    circuits = _random_batch(2, BATCH)
    batched = jax.device_get(solve_batch(stack(circuits)))
    one = jax.jit(solve)
    for i, c in enumerate(circuits):
        single = jax.device_get(one(c))
        chex.assert_trees_all_equal(single, jax.tree.map(lambda x, i=i: x[i], batched))


def test_no_retrace():
    chex.clear_trace_counter()

    def solve_all(circuits):
        return jax.vmap(solve)(circuits)

    traced = jax.jit(chex.assert_max_traces(solve_all, n=1))
    for seed in range(4):  # same shape and eval_width, different circuits
        traced(stack(_random_batch(seed, 8)))
    with pytest.raises(AssertionError):  # the guard does fire on a new shape
        traced(stack(_random_batch(9, 4)))


def reference_optimal_value(value, depth, selected, region, steps_left):
    """V*(s) as the spec writes it, in plain Python."""
    chosen = [i for i in range(len(value)) if selected[i]]
    if any(not value[i] for i in chosen):
        return 0
    best_chosen = max((depth[i] for i in chosen), default=0)
    d1_z = max((depth[i] for i in range(len(value)) if region[i] and value[i]), default=0)
    return max(best_chosen, d1_z if steps_left >= 1 else 0)


def test_optimal_value_matches_formula(solve_batch):
    rng = np.random.default_rng(3)
    circuits = _random_batch(3, BATCH)
    sol = jax.device_get(solve_batch(stack(circuits)))
    gates = np.stack([np.asarray(c.node_type) >= 3 for c in circuits])
    states = 4
    value = np.repeat(sol.value, states, axis=0)
    depth = np.repeat(sol.depth, states, axis=0)
    gates = np.repeat(gates, states, axis=0)
    # Chosen gates: a random subset, often only gates of value 1 (non-zero V*).
    p = rng.uniform(0, 0.3, (len(value), 1))
    selected = gates & (rng.random(value.shape) < p)
    only_ones = rng.random((len(value), 1)) < 0.6
    selected &= value | ~only_ones
    region = gates & (rng.random((len(value), 1)) < 0.8)  # sometimes an empty region
    steps_left = rng.integers(0, 3, len(value))
    got = jax.jit(jax.vmap(optimal_value))(value, depth, selected, region, steps_left)
    want = [reference_optimal_value(value[i], depth[i], selected[i], region[i], steps_left[i]) for i in range(len(value))]
    assert np.asarray(got).tolist() == want
    assert sum(w > 0 for w in want) > len(want) // 4  # the test sees non-trivial values

    # Arbitrary arrays, not from a circuit.
    shape = (500, 16)
    value = rng.random(shape) < 0.7
    depth = rng.integers(0, 10, shape).astype(np.int32)
    selected = rng.random(shape) < 0.1
    region = rng.random(shape) < 0.5
    steps_left = rng.integers(0, 2, shape[0])
    got = jax.vmap(optimal_value)(value, depth, selected, region, steps_left)
    want = [reference_optimal_value(value[i], depth[i], selected[i], region[i], steps_left[i]) for i in range(shape[0])]
    assert np.asarray(got).tolist() == want
    assert jnp.asarray(got).dtype == jnp.int32
