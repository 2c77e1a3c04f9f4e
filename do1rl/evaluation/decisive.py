"""The L-block ceiling's forced choice on one-shot DO1 (biregular family), and the cases it gets wrong.

An L-block message-passing policy on `LayeredBiregular` circuits is granted
(docs/hard-instances.md, "The message-passing ceiling"; more than its L-round
colours show): the values of layers 0..L exactly, the count of 1s of every
layer up to s = min(2L, D), the depth D, the chain length k, the fan-in and
the layer kinds. Beyond layer s it knows only the law of the count chain
(`do1rl.core.count_chain`) given c_s and the kinds, reweighted by
1 / P(d1) on the d1-stratified family. With L = 0 (s = 0) it knows the input
bits (their count c_0 is all that matters), D, k, the fan-in and the kinds,
and nothing about any gate's value.

In one-shot DO1 it picks one gate: the chain's top (reward k) or a gate of C
(reward its depth l if it is 1): an exact 1-gate at depth <= L, a uniformly
picked gate of a layer l in (L, s] (1 with probability c_l / w), or one of a
deeper layer (1 with probability E[c_l / w | information]). The ratio is
reward / max(d1, k). Its choice maximises the expected ratio given what it
knows, with exact expectations (no sampling); ties go to the chain.

DO1's forced choice is right when it picks C with d1 > k or the chain with
k > d1 (either when d1 = k). The *decisive* instances are those where the
ceiling's choice is wrong: no L-block policy can be right there without being
wrong, in expectation, elsewhere in the same information cell.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from do1rl.core import count_chain
from do1rl.core.circuit import AND, INPUT_1, OR

__all__ = ["ceiling_choice", "ceiling_from_states", "ceiling_ratio", "d1_of", "decisive", "decisive_accuracy", "decisive_from_states"]


def d1_of(ones: np.ndarray) -> np.ndarray:
    """int[E]: the deepest layer (1..D) with a 1-gate, 0 if none, from counts of 1s [E, D]."""
    ones = np.asarray(ones)
    layer = np.arange(1, ones.shape[1] + 1)
    return np.max(np.where(ones > 0, layer, 0), axis=1, initial=0)


@lru_cache(maxsize=256)
def _cell(width: int, kval: int, depth: int, first_is_and: bool, s: int, count: int, p_one: float, stratified: bool):
    """(d1 value per `last` outcome [D+1], posterior of last [D+1], posterior sum_a a * P(c_l = a, last) [D+1, D+1])."""
    last, joint = count_chain.future_law(width, kval, depth, first_is_and, s, count)
    t = np.arange(depth + 1)
    d1 = np.where(t > 0, t, s)  # no 1 beyond s: d1 = s (c_s > 0 here; 0 when s = 0)
    law = count_chain.d1_law(width, depth, kval, p_one)[d1] if stratified else np.ones(depth + 1)
    weight = np.divide(1.0, law, out=np.zeros(depth + 1), where=(last > 0) & (law > 0))
    z = last @ weight
    post = last * weight / z
    ones_joint = np.einsum("a,lat->lt", np.arange(width + 1), joint) * weight / z
    return d1, post, ones_joint


def ceiling_choice(
    ones: np.ndarray,
    inputs_one: np.ndarray,
    first_is_and: np.ndarray,
    k: np.ndarray,
    width: int,
    kval: int,
    p_one: float,
    blocks: int,
    *,
    stratified: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(choose_circuit bool[E], expected_ratio float[E]) of the L-block ceiling (L = `blocks`) on one-shot DO1.

    ones: int[E, D], 1s per gate layer 1..D; inputs_one: int[E], c_0;
    first_is_and: bool[E], layer 1's kind; k: int[E], the chain length;
    width, kval (fan-in), p_one: the family; stratified: the instances come
    from the d1-stratified family (else unconditioned draws). p_one only
    enters through P(d1) in the stratified reweighting.
    """
    ones = np.asarray(ones, np.int64)
    n, depth = ones.shape
    inputs_one = np.asarray(inputs_one, np.int64).reshape(n)
    first_is_and = np.asarray(first_is_and, bool).reshape(n)
    k = np.asarray(k, np.int64).reshape(n)
    if np.any(k < 1):
        raise ValueError("chain lengths k must be >= 1")
    counts = np.concatenate([inputs_one[:, None], ones], axis=1)  # [E, D + 1], layer 0 first
    low, s = min(blocks, depth), min(2 * blocks, depth)
    layer = np.arange(1, depth + 1)
    shallow = np.max(np.where((ones > 0) & (layer <= low), layer, 0), axis=1, initial=0).astype(float)
    middle = np.max(np.where((layer > low) & (layer <= s), layer * ones / width, 0.0), axis=1, initial=0.0)
    known_reward = np.maximum(shallow, middle)
    d1 = d1_of(ones)
    count_s = counts[:, s]
    known = (count_s == 0) | (s == depth)
    inverse = 1.0 / np.maximum(d1, k)  # E[1 / max(d1, k)] where d1 is known
    deep = np.zeros(n)
    for c in np.unique(count_s[~known]):
        for kind in (False, True):
            rows = np.flatnonzero(~known & (count_s == c) & (first_is_and == kind))
            if not rows.size:
                continue
            cell_d1, post, ones_joint = _cell(width, kval, depth, kind, s, int(c), float(p_one), bool(stratified))
            denom = 1.0 / np.maximum(cell_d1[None, :], k[rows, None])  # [R, D + 1]
            inverse[rows] = denom @ post
            gain = (np.arange(depth + 1)[:, None] / width) * ones_joint  # [l, t]: l * a / w, summed over a
            deep[rows] = (denom @ gain.T).max(axis=1)  # layers <= s have zero gain
    chain = k * inverse
    circuit = np.maximum(known_reward * inverse, deep)
    return circuit > chain, np.maximum(circuit, chain)


def ceiling_ratio(*args, **kwargs) -> float:
    """The mean of `ceiling_choice`'s expected ratio over the batch (same arguments): the one-shot DO1 ceiling."""
    return float(np.mean(ceiling_choice(*args, **kwargs)[1]))


def decisive(
    ones: np.ndarray,
    inputs_one: np.ndarray,
    first_is_and: np.ndarray,
    k: np.ndarray,
    width: int,
    kval: int,
    p_one: float,
    blocks: int,
    *,
    stratified: bool = True,
) -> np.ndarray:
    """bool[E]: the instances where the ceiling's forced choice is wrong (never where d1 = k). Arguments: `ceiling_choice`."""
    choose, _ = ceiling_choice(ones, inputs_one, first_is_and, k, width, kval, p_one, blocks, stratified=stratified)
    d1 = d1_of(ones)
    k = np.asarray(k).reshape(-1)
    return (d1 != k) & (choose != (d1 > k))


def decisive_accuracy(choose_circuit: np.ndarray, ones: np.ndarray, k: np.ndarray, mask: np.ndarray) -> float:
    """The share of the `mask` instances whose forced choice (`choose_circuit`) is right; NaN if none."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return float("nan")
    right = np.asarray(choose_circuit, bool) == (d1_of(ones) > np.asarray(k).reshape(-1))
    return float(right[mask].mean())


def _biregular_family(generator) -> tuple[int, int, float, bool]:
    """(width, fan-in, p_one, stratified) shared by a LayeredBiregular or a Mixture of them; ValueError otherwise."""
    from do1rl.core.biregular import LayeredBiregular

    parts = getattr(generator, "generators", None)
    parts = tuple(parts) if parts is not None else (generator,)
    if not all(isinstance(g, LayeredBiregular) for g in parts):
        raise ValueError(f"decisive cases need a LayeredBiregular generator (or a mixture of them), got {type(generator).__name__}")
    family = {(g.width, g.k, float(np.asarray(g.p_one)), bool(g.stratify_d1)) for g in parts}
    if len(family) != 1:
        raise ValueError(f"the mixture's biregular components differ in (width, k, p_one, stratify_d1): {sorted(family)}")
    return family.pop()


# (rows, ceiling_choice's per-instance arguments: ones, inputs_one, first_is_and, k) of one circuit depth.
_Group = tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def _by_depth(env, states) -> tuple[tuple[int, int, float, bool], int, list[_Group]]:
    """The family's (width, k, p_one, stratified) and, per circuit depth D, (rows, ceiling_choice's per-instance arguments)."""
    family = _biregular_family(env.generator)
    node_type = np.asarray(states.node_type)
    main = np.asarray(states.circuit_id) == 0
    value = np.asarray(states.value, bool)
    depth = np.asarray(states.depth)
    gate = main & ((node_type == AND) | (node_type == OR))
    inputs_one = np.sum(main & (node_type == INPUT_1), axis=1)
    circuit_depth = np.max(np.where(gate, depth, 0), axis=1)
    first_is_and = np.any(gate & (depth == 1) & (node_type == AND), axis=1)
    top = int(circuit_depth.max(initial=0))
    ones = np.stack([np.sum(gate & value & (depth == d), axis=1) for d in range(1, top + 1)], axis=1)
    k = np.asarray(states.chain_length).reshape(-1)
    groups: list[_Group] = []
    for d in np.unique(circuit_depth):
        rows = np.flatnonzero(circuit_depth == d)
        groups.append((rows, (ones[rows, :d], inputs_one[rows], first_is_and[rows], k[rows])))
    return family, node_type.shape[0], groups


def ceiling_from_states(env, states, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """(choose_circuit bool[E], expected_ratio float[E]): `ceiling_choice` for a batch of DO1 reset states.

    `states` as `do1rl.evaluation.reset_starts(env, params, ...)[1]` gives
    them; the family is read from `env.generator` (a LayeredBiregular or a
    padded Mixture of them; ValueError otherwise), each instance's D from
    its own circuit.
    """
    (width, kval, p_one, stratified), count, groups = _by_depth(env, states)
    choose, ratio = np.zeros(count, bool), np.zeros(count)
    for rows, args in groups:
        choose[rows], ratio[rows] = ceiling_choice(*args, width, kval, p_one, blocks, stratified=stratified)
    return choose, ratio


def decisive_from_states(env, states, blocks: int) -> np.ndarray:
    """bool[E]: `decisive` for a batch of DO1 reset states (as `ceiling_from_states` takes them)."""
    (width, kval, p_one, stratified), count, groups = _by_depth(env, states)
    out = np.zeros(count, bool)
    for rows, args in groups:
        out[rows] = decisive(*args, width, kval, p_one, blocks, stratified=stratified)
    return out
