"""The L-block ceiling's forced choice on one-shot DO1 and its decisive cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from do1rl.core import count_chain
from do1rl.core.circuit import AND
from do1rl.evaluation import decisive as dc
from do1rl.evaluation import reset_starts

W, D, FANIN, P_ONE = 3, 4, 2, 0.6


def enumerated_paths():
    """Every (kind, c_0..c_D) with its d1-stratified probability."""
    law = count_chain.d1_law(W, D, FANIN, P_ONE)
    pi0 = count_chain.input_law(W, P_ONE)
    rows = []
    for kind in (False, True):
        trans = count_chain.transitions(W, FANIN, D, kind)
        for path in itertools.product(range(W + 1), repeat=D + 1):
            p = 0.5 * pi0[path[0]] * np.prod([trans[i][path[i], path[i + 1]] for i in range(D)])
            if p > 0:
                d1 = max([i for i in range(1, D + 1) if path[i] > 0], default=0)
                rows.append((kind, path, p / ((D + 1) * law[d1]), d1))
    return rows


def brute_force(rows, blocks: int, k: int) -> dict:
    """Expected ratio of the best option per information cell (kind, c_0..c_s), by summing over the cell."""
    s, low = min(2 * blocks, D), min(blocks, D)
    cells: dict = {}
    for kind, path, weight, d1 in rows:
        cells.setdefault((kind, path[: s + 1]), []).append((path, weight, d1))
    best = {}
    for cell, members in cells.items():
        paths = np.array([p for p, _, _ in members])
        weight = np.array([w for _, w, _ in members])
        weight = weight / weight.sum()
        inverse = weight @ (1.0 / np.maximum([d for _, _, d in members], k))  # E[1 / max(d1, k)]
        scaled = weight * (1.0 / np.maximum([d for _, _, d in members], k))
        shallow = max([i for i in range(1, low + 1) if paths[0, i] > 0], default=0)
        known = max([shallow] + [i * paths[0, i] / W for i in range(low + 1, s + 1)])
        options = [known * inverse] + [scaled @ (i * paths[:, i] / W) for i in range(s + 1, D + 1)]
        chain = k * inverse
        best[cell] = (max(options) > chain + 1e-12, max(max(options), chain), abs(max(options) - chain) < 1e-12)
    return best


@pytest.fixture(scope="module")
def paths():
    rows = enumerated_paths()
    counts = np.array([p for _, p, _, _ in rows])
    kinds = np.array([k for k, _, _, _ in rows])
    return rows, counts, kinds


@pytest.mark.parametrize("blocks", [0, 1, 2])
def test_ceiling_choice_is_the_bayes_choice(paths, blocks):
    rows, counts, kinds = paths
    s = min(2 * blocks, D)
    for k in range(1, D + 1):
        choose, ratio = dc.ceiling_choice(counts[:, 1:], counts[:, 0], kinds, np.full(len(rows), k), W, FANIN, P_ONE, blocks)
        best = brute_force(rows, blocks, k)
        for i, (kind, path, _, _) in enumerate(rows):
            want_c, want_ratio, tie = best[(kind, path[: s + 1])]
            assert ratio[i] == pytest.approx(want_ratio, abs=1e-9)
            if not tie:
                assert choose[i] == want_c


def test_decisive_flags(paths):
    rows, counts, kinds = paths
    rng = np.random.default_rng(0)
    k = rng.integers(1, D + 1, len(rows))
    d1 = dc.d1_of(counts[:, 1:])
    for blocks in (0, 1):
        args = (counts[:, 1:], counts[:, 0], kinds, k, W, FANIN, P_ONE, blocks)
        flags = dc.decisive(*args)
        choose, _ = dc.ceiling_choice(*args)
        assert not flags[d1 == k].any()  # ties are never decisive
        assert flags.any()
        assert dc.decisive_accuracy(d1 > k, counts[:, 1:], k, flags) == 1.0  # the oracle
        assert dc.decisive_accuracy(choose, counts[:, 1:], k, flags) == 0.0  # the ceiling itself
    # with every layer visible (2L >= D) the ceiling is the oracle: nothing is decisive
    assert not dc.decisive(counts[:, 1:], counts[:, 0], kinds, k, W, FANIN, P_ONE, D).any()


def test_decisive_from_states_matches_counts():
    from do1rl.envs.make import make

    env, params = make("DO1", family="biregular", depth=D, width=W, k=FANIN, max_selections=1, stratify_d1=False)
    _, states = reset_starts(env, params, episodes=64, seed=0)
    value = np.asarray(states.value)[:, : W * (D + 1)].reshape(64, D + 1, W).sum(-1)
    first_and = np.asarray(states.node_type)[:, W] == AND
    for blocks in (0, 1):
        k = np.asarray(states.chain_length)
        want = dc.decisive(value[:, 1:], value[:, 0], first_and, k, W, FANIN, P_ONE, blocks, stratified=False)
        np.testing.assert_array_equal(dc.decisive_from_states(env, states, blocks), want)
    random_env, _ = make("DO1", depth=3)
    with pytest.raises(ValueError, match="LayeredBiregular"):
        dc.decisive_from_states(random_env, states, 1)
