"""The count chain of the biregular family and the direct d1-stratified sampler."""

from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest
from scipy.stats import chi2_contingency

from do1rl.core import count_chain, solver
from do1rl.core.biregular import LayeredBiregular
from do1rl.core.circuit import AND


def brute_force(width: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(AND, OR) transition matrices by enumerating every 1-set and every k-tuple of permutations."""
    perms = list(itertools.permutations(range(width)))
    out = {"and": np.zeros((width + 1, width + 1)), "or": np.zeros((width + 1, width + 1))}
    for c in range(width + 1):
        sets = list(itertools.combinations(range(width), c))
        for ones in sets:
            for tup in itertools.product(perms, repeat=k):
                reads = [[ones.__contains__(p[i]) for p in tup] for i in range(width)]
                out["and"][c, sum(all(r) for r in reads)] += 1
                out["or"][c, sum(any(r) for r in reads)] += 1
        for name in out:
            out[name][c] /= len(sets) * len(perms) ** k
    return out["and"], out["or"]


@pytest.mark.parametrize("width, k", [(3, 1), (3, 2), (3, 3), (4, 2)])
def test_transition_matrices_match_enumeration(width, k):
    and_t, or_t = brute_force(width, k)
    np.testing.assert_allclose(count_chain.and_matrix(width, k), and_t, atol=1e-12)
    np.testing.assert_allclose(count_chain.or_matrix(width, k), or_t, atol=1e-12)


def solved_counts(circuits, width: int, depth: int):
    """(counts [B, D + 1] of 1s per layer 0..D, layer 1 is AND [B], d1 [B]) of a solved batch."""
    sol = jax.device_get(solver.solve_batch(circuits))
    counts = np.asarray(sol.value).reshape(-1, depth + 1, width).sum(-1)
    return counts, np.asarray(circuits.node_type)[:, width] == AND, np.asarray(sol.d1)


W, D, K = 3, 6, 2


@pytest.fixture(scope="module")
def plain():
    gen = LayeredBiregular(width=W, depth=D, k=K, stratify_d1=False)
    keys = jax.random.split(jax.random.key(0), 20000)
    circuits = jax.device_get(jax.jit(jax.vmap(gen.sample))(keys))
    return (*solved_counts(circuits, W, D), circuits)


@pytest.fixture(scope="module")
def direct():
    gen = LayeredBiregular(width=W, depth=D, k=K)
    keys = jax.random.split(jax.random.key(1), 7 * 700)
    targets = np.arange(keys.shape[0]) % (D + 1)
    circuits = jax.device_get(jax.jit(jax.vmap(gen.sample_given_d1))(keys, targets))
    return (*solved_counts(circuits, W, D), circuits, targets)


def test_d1_law_matches_unconditioned_draws(plain):
    _, _, d1, _ = plain
    law = count_chain.d1_law(W, D, K, 0.6)
    assert law.sum() == pytest.approx(1.0)
    freq = np.bincount(d1, minlength=D + 1) / d1.size
    stderr = np.sqrt(law * (1 - law) / d1.size)
    assert np.all(np.abs(freq - law) < 4 * stderr + 1e-4), (freq, law)


def test_direct_sampler_hits_target_with_valid_circuits(direct):
    _, _, d1, circuits, targets = direct
    np.testing.assert_array_equal(d1, targets)
    fanin = np.asarray(circuits.fanin)  # [B, N, K]
    gates = fanin[:, W:]
    assert np.all(gates >= 0)
    layer_of = np.arange(W * D) // W + 1  # each gate's layer
    np.testing.assert_array_equal(gates // W, np.broadcast_to(layer_of[None, :, None] - 1, gates.shape))
    fanout = np.stack([np.bincount(f.ravel(), minlength=W * (D + 1)) for f in gates[:200]])
    np.testing.assert_array_equal(fanout[:, : W * D], K)
    np.testing.assert_array_equal(fanout[:, W * D :], 0)


def exact_conditional(t: int) -> tuple[float, np.ndarray]:
    """(P(layer 1 is AND | d1 = t), law of c_{t-1} given d1 = t) from the chain by enumeration of the messages."""
    pi0 = count_chain.input_law(W, 0.6)
    joint_kind, law = np.zeros(2), np.zeros(W + 1)
    for kind in (False, True):
        beta = count_chain.d1_backward(W, K, D, kind, t)
        trans = count_chain.transitions(W, K, D, kind)
        forward = 0.5 * pi0
        for layer in range(1, t):
            forward = forward @ trans[layer - 1]
        joint_kind[int(kind)] = (0.5 * pi0) @ beta[0]
        law += forward * beta[t - 1]
    return joint_kind[1] / joint_kind.sum(), law / law.sum()


@pytest.mark.parametrize("t", [1, 3, 4, 6])
def test_conditional_path_law_matches_rejection(plain, direct, t):
    p_and, law = exact_conditional(t)
    for counts, first_and, d1 in (plain[:3], direct[:3]):
        sel = d1 == t
        n = sel.sum()
        assert n >= 150
        assert abs(first_and[sel].mean() - p_and) < 4 * np.sqrt(p_and * (1 - p_and) / n) + 1e-3
        freq = np.bincount(counts[sel, t - 1], minlength=W + 1) / n
        assert np.all(np.abs(freq - law) < 4 * np.sqrt(law * (1 - law) / n) + 1e-3), (t, freq, law)


def test_layout_matches_rejection(plain, direct):
    """The gates that read one node twice, per layer: the same law under rejection and the direct sampler."""
    for t in (2, 5):
        tables = []
        for _, _, d1, circuits, *_ in (plain, direct):
            fanin = np.asarray(circuits.fanin)[d1 == t, W:]
            doubled = (fanin[..., 0] == fanin[..., 1]).sum(1)
            tables.append(np.bincount(doubled, minlength=W * D + 1))
        table = np.array(tables)
        table = table[:, table.sum(0) > 0]
        assert chi2_contingency(table).pvalue > 1e-3


def test_refuses_impossible_targets():
    with pytest.raises(ValueError, match="probability 0"):
        LayeredBiregular(width=3, depth=4, k=1)
    with pytest.raises(ValueError, match="p_one"):
        LayeredBiregular(width=3, depth=4, k=2, p_one=1.0)
    LayeredBiregular(width=3, depth=4, k=1, stratify_d1=False)  # unstratified is fine


def test_jit_matches_vmap(direct):
    """One instance jitted alone is the same circuit as in the jitted vmapped batch."""
    *_, circuits, targets = direct
    gen = LayeredBiregular(width=W, depth=D, k=K)
    keys = jax.random.split(jax.random.key(1), 7 * 700)
    one = jax.jit(gen.sample_given_d1)
    for i in (0, 11):
        single = one(keys[i], targets[i])
        for a, b in zip(jax.tree.leaves(single), jax.tree.leaves(circuits), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b)[i])
