"""Instance generators: validity, d1 spread, chains and chain prefixes, jit/vmap."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from do1rl.core import circuit_file
from do1rl.core.circuit import AND, INPUT_1, OR, PAD
from do1rl.core.generators import Chains, RandomAlternating, chain
from do1rl.core.reference import circuit_to_lists, evaluate
from do1rl.core.solver import solve


@pytest.fixture(scope="session")
def solve_batch():
    return jax.jit(jax.vmap(solve))


def sample(gen, count, seed=0):
    keys = jax.random.split(jax.random.key(seed), count)
    return jax.jit(jax.vmap(gen))(keys)


def row(batch, i):
    return jax.tree.map(lambda x: x[i], batch)


def test_default_d1_is_spread(solve_batch):
    gen = RandomAlternating(depth=16)
    d1 = np.asarray(solve_batch(sample(gen, 2000)).d1)
    counts = np.bincount(d1, minlength=gen.max_depth + 1)
    assert counts.max() <= 0.25 * len(d1), counts
    assert d1.max() <= gen.max_depth


CONFIGS = [
    RandomAlternating(),
    RandomAlternating(n_inputs=3, depth=7, width=5, max_fanin=2),
    RandomAlternating(n_inputs=4, depth=9, width=3, max_fanin=4, skip_prob=1.0, input_prob=0.0),
    RandomAlternating(n_inputs=4, depth=6, width=4, max_fanin=3, prefix_chain=5, p_one=0.8),
    RandomAlternating(n_inputs=1, depth=2, width=1, max_fanin=2, prefix_chain=1),
]


@pytest.mark.parametrize("gen", CONFIGS, ids=lambda g: f"d{g.depth}w{g.width}f{g.max_fanin}L{g.prefix_chain}")
def test_generated_circuits_are_valid(solve_batch, gen):
    count = 40
    batch = jax.device_get(sample(gen, count, seed=1))
    sol = jax.device_get(solve_batch(batch))
    assert batch.node_type.shape == (count, gen.num_nodes)
    assert batch.fanin.shape == (count, gen.num_nodes, gen.fanin_slots)
    for i in range(count):
        c = row(batch, i)
        obj = circuit_file.to_json(c)  # validates: alternation, no cycle, ...
        parsed = circuit_file.parse(obj)
        inputs, ops, fanins, new_id = circuit_to_lists(c.node_type, c.fanin)
        assert tuple(parsed) == (inputs, ops, fanins)
        value, depth, d1 = evaluate(inputs, ops, fanins)
        slots = sorted(new_id)
        assert [depth[new_id[s]] for s in slots] == c.depth[slots].tolist()  # stored depths are right
        assert [value[new_id[s]] for s in slots] == sol.value[i][slots].tolist()
        assert int(sol.d1[i]) == d1
        assert max(depth) <= gen.max_depth
        assert len(ops) <= gen.max_gates


def test_chain(solve_batch):
    K = 12
    lengths = jnp.arange(1, K + 1)
    chains = jax.device_get(jax.jit(jax.vmap(chain, in_axes=(0, None)), static_argnums=1)(lengths, K))
    sol = jax.device_get(solve_batch(chains))
    for k in range(1, K + 1):
        c, i = row(chains, k - 1), k - 1
        assert int(sol.d1[i]) == k
        assert c.node_type[0] == INPUT_1
        want_types = [OR if g % 2 == 1 else AND for g in range(1, k + 1)] + [PAD] * (K - k)
        assert c.node_type[1:].tolist() == want_types  # OR first, alternating
        assert c.depth[1 : k + 1].tolist() == list(range(1, k + 1))  # gate g has depth g
        assert sol.value[i][: k + 1].all() and not sol.value[i][k + 1 :].any()
        inputs, ops, fanins, _ = circuit_to_lists(c.node_type, c.fanin)
        assert evaluate(inputs, ops, fanins)[2] == k
        circuit_file.to_json(c)
    fixed = jax.device_get(sample(Chains(max_length=K, length=5), 4))
    assert (np.asarray(solve_batch(fixed).d1) == 5).all()
    random = np.asarray(solve_batch(sample(Chains(max_length=K), 200)).d1)
    assert random.min() >= 1 and random.max() <= K and len(set(random.tolist())) > K // 2


def strip_chain(inputs, ops, fanins, n, length):
    """C from C': drop input n, chain gates 0..L-1 and every read of the chain top."""
    top = n + 1 + length - 1  # node id of the chain's top gate
    keep = list(range(length, len(ops)))
    new_id = {i: i for i in range(n)}
    for k, g in enumerate(keep):
        new_id[n + 1 + g] = n + k
    fanins_c = []
    for g in keep:
        reads = [s for s in fanins[g] if s != top]
        assert all(s in new_id for s in reads)  # C reads nothing else of the chain
        fanins_c.append([new_id[s] for s in reads])
    return inputs[:n], [ops[g] for g in keep], fanins_c


@pytest.mark.parametrize("length", [1, 2, 5])
def test_chain_prefix_relation(length):
    gen = RandomAlternating(n_inputs=4, depth=6, width=3, max_fanin=3, prefix_chain=length)
    n = gen.n_inputs
    batch = jax.device_get(sample(gen, 60, seed=length))
    seen_positive = False
    for i in range(60):
        c = row(batch, i)
        inputs, ops, fanins, _ = circuit_to_lists(c.node_type, c.fanin)
        # The chain: input n with bit 1, gates 0..L-1 alternating, ending in an OR at its top.
        assert inputs[n] == 1 and len(inputs) == n + 1
        assert ops[:length] == ["OR" if (length - g) % 2 == 1 else "AND" for g in range(length)]
        assert fanins[0] == [n] and all(fanins[g] == [n + g] for g in range(1, length))
        value_p, depth_p, d1_p = evaluate(inputs, ops, fanins)
        inputs_c, ops_c, fanins_c = strip_chain(inputs, ops, fanins, n, length)
        value_c, depth_c, d1_c = evaluate(inputs_c, ops_c, fanins_c)
        assert d1_p == (length + d1_c if d1_c >= 1 else length)
        m_c = len(ops_c)
        # Every gate of C: depth grew by exactly L, value unchanged.
        assert [depth_p[n + 1 + length + g] for g in range(m_c)] == [d + length for d in depth_c[n:]]
        assert [value_p[n + 1 + length + g] for g in range(m_c)] == value_c[n:]
        # The gates of C that read only inputs are AND gates and read the chain top in C'.
        top = n + length
        for g in range(m_c):
            if all(s < n for s in fanins_c[g]):
                assert ops_c[g] == "AND" and top in fanins[length + g]
        seen_positive |= d1_c >= 1
    assert seen_positive


def test_generators_jit_and_vmap():
    keys = jax.random.split(jax.random.key(5), 3)
    for gen in (RandomAlternating(n_inputs=3, depth=4, width=3, prefix_chain=2), Chains(max_length=6)):
        batched = sample(gen, 3, seed=5)
        jitted = jax.jit(gen)
        for i, key in enumerate(keys):
            chex.assert_trees_all_equal(jitted(key), row(batched, i))
    # Static sizes are part of the pytree structure, so a generator passes through jit.
    gen = RandomAlternating(n_inputs=2, depth=3, width=2)
    make = jax.jit(lambda g, k: g(k))
    chex.assert_trees_all_equal(make(gen, keys[1]), jax.jit(gen)(keys[1]))
