"""Random alternating circuits as file-order lists, for the tests.

`random_lists` draws from a numpy Generator (cheap, for thousands of
circuits); `small_circuits` is a hypothesis strategy drawn element by element
(so it shrinks to a minimal failing circuit). Both make valid alternating
circuits with skip edges, fan-in 1, duplicate ids and gates in shuffled
(non-topological) order.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


def shuffle_gates(n, ops, fanins, perm):
    """Lists gate g at position perm[g], renumbering the ids it is read by."""
    m = len(ops)
    new_id = list(range(n)) + [n + int(perm[g]) for g in range(m)]
    new_ops = [None] * m
    new_fanins = [None] * m
    for g in range(m):
        new_ops[perm[g]] = ops[g]
        new_fanins[perm[g]] = [new_id[s] for s in fanins[g]]
    return new_ops, new_fanins


def random_lists(rng: np.random.Generator, max_nodes: int = 64, max_fanin: int = 4):
    """(inputs, ops, fanins) of a random valid alternating circuit."""
    n = int(rng.integers(1, min(9, max_nodes)))
    m = int(rng.integers(1, max_nodes - n + 1))
    inputs = [int(b) for b in rng.integers(0, 2, n)]
    p_input = rng.uniform(0.0, 0.7)
    p_switch = rng.uniform(0.5, 1.0)  # high: long alternating paths
    ops: list[str] = []
    fanins: list[list[int]] = []
    for g in range(m):
        if g and rng.random() < p_switch:
            op = "OR" if ops[-1] == "AND" else "AND"
        else:
            op = "AND" if rng.random() < 0.5 else "OR"
        other = [n + h for h in range(g) if ops[h] != op]
        k = int(rng.integers(1, max_fanin + 1))
        srcs = []
        for _ in range(k):
            if other and rng.random() >= p_input:
                back = min(int(rng.geometric(0.4)) - 1, len(other) - 1)  # mostly recent: deep
                srcs.append(other[-1 - back])
            else:
                srcs.append(int(rng.integers(0, n)))
        if len(srcs) < max_fanin and rng.random() < 0.15:
            srcs.append(srcs[0])  # duplicate id
        ops.append(op)
        fanins.append(srcs)
    ops, fanins = shuffle_gates(n, ops, fanins, rng.permutation(m))
    return inputs, ops, fanins


@st.composite
def small_circuits(draw, max_inputs: int = 6, max_gates: int = 12, max_fanin: int = 4):
    """Hypothesis strategy for a small valid alternating circuit (shrinkable)."""
    n = draw(st.integers(1, max_inputs))
    inputs = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    m = draw(st.integers(1, max_gates))
    ops: list[str] = []
    fanins: list[list[int]] = []
    for g in range(m):
        op = draw(st.sampled_from(["AND", "OR"]))
        choices = list(range(n)) + [n + h for h in range(g) if ops[h] != op]
        fanins.append(draw(st.lists(st.sampled_from(choices), min_size=1, max_size=max_fanin)))
        ops.append(op)
    perm = draw(st.permutations(range(m)))
    ops, fanins = shuffle_gates(n, ops, fanins, perm)
    return inputs, ops, fanins


def layered_lists(pick, n_inputs: int, layer_sizes, max_fanin: int = 3):
    """(inputs, ops, fanins) of a valid alternating circuit with `layer_sizes[d - 1]` gates of depth d.

    Gates are listed layer by layer, so `from_lists` keeps them in that
    order. Each gate above layer 1 reads a random gate of the layer below
    (its kind is the other one) and up to `max_fanin - 1` more inputs or
    lower gates of the other kind. `pick(low, high)` draws an int in
    [low, high], so one rule serves hypothesis and numpy.
    """
    inputs = [pick(0, 1) for _ in range(n_inputs)]
    ops: list[str] = []
    fanins: list[list[int]] = []
    layers: list[list[int]] = []
    for d, size in enumerate(layer_sizes, 1):
        layer = []
        for _ in range(size):
            if d == 1:
                op, srcs = ("AND" if pick(0, 1) else "OR"), []
            else:
                parent = layers[-1][pick(0, len(layers[-1]) - 1)]
                op, srcs = ("OR" if ops[parent - n_inputs] == "AND" else "AND"), [parent]
            lower = [g for below in layers for g in below if ops[g - n_inputs] != op]
            for _ in range(pick(0 if srcs else 1, max_fanin - len(srcs))):
                srcs.append(lower[pick(0, len(lower) - 1)] if lower and pick(0, 1) else pick(0, n_inputs - 1))
            layer.append(n_inputs + len(ops))
            ops.append(op)
            fanins.append(srcs)
        layers.append(layer)
    return inputs, ops, fanins


@st.composite
def layered_circuits(draw, n_inputs: int, layer_sizes, max_fanin: int = 3):
    """Hypothesis strategy for `layered_lists` (shrinkable)."""
    return layered_lists(lambda low, high: draw(st.integers(low, high)), n_inputs, layer_sizes, max_fanin)
