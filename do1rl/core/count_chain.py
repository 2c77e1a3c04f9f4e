"""The exact Markov chain of the count of 1s per layer of `LayeredBiregular` circuits.

Layer l reads layer l - 1 through k independent uniform permutations, so the
count c_l of 1s in layer l depends on the layers below only through c_{l-1}.
An AND gate i is 1 iff all its inputs are 1: with S the 1-set of layer l - 1
(|S| = c), A_j = {i : perm_j(i) in S} are k independent uniform c-subsets of
[w] and c_l = |A_1 n ... n A_k|. Intersecting an m-set with a fresh uniform
a-subset leaves m' elements with the hypergeometric probability
C(m, m') C(w - m, a - m') / C(w, a) (`intersection_step`). An OR layer is the
same chain on the count of 0s. Counts 0 and w are absorbing, and
d1 = max{l >= 1 : c_l > 0} (0 if none).

Layer kinds: layer l (1..D) is AND iff (l odd) == first_is_and, and
first_is_and ~ Bernoulli(1/2). Arrays index counts 0..w on their last axes.
Everything here is float64 numpy. docs/hard-instances.md (the direct sampler)
uses it; `do1rl.core.biregular` samples from it and
`do1rl.evaluation.decisive` takes exact expectations with it.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.special import comb

__all__ = [
    "and_matrix",
    "d1_backward",
    "d1_law",
    "future_law",
    "input_law",
    "intersection_step",
    "layer_is_and",
    "or_matrix",
    "sample_paths",
    "transitions",
]


@cache
def _intersection_step(width: int, a: int) -> np.ndarray:
    m = np.arange(width + 1)[:, None]
    m2 = np.arange(width + 1)[None, :]
    return comb(m, m2) * comb(width - m, a - m2) / comb(width, a)


def intersection_step(width: int, a: int) -> np.ndarray:
    """H[m, m']: P(|I n A| = m' | |I| = m) for a uniform a-subset A of [width]."""
    return _intersection_step(int(width), int(a)).copy()


@cache
def _and_matrix(width: int, k: int) -> np.ndarray:
    out = np.zeros((width + 1, width + 1))
    for c in range(width + 1):
        row = np.zeros(width + 1)
        row[width] = 1.0  # the empty intersection is all of [w]
        step = _intersection_step(width, c)
        for _ in range(k):
            row = row @ step
        out[c] = row
    return out


def and_matrix(width: int, k: int) -> np.ndarray:
    """T[c, c']: P(c_l = c' | c_{l-1} = c) for an AND layer of fan-in k."""
    return _and_matrix(int(width), int(k)).copy()


def or_matrix(width: int, k: int) -> np.ndarray:
    """T[c, c'] for an OR layer: the AND chain on the count of 0s."""
    return and_matrix(width, k)[::-1, ::-1].copy()


def input_law(width: int, p_one: float) -> np.ndarray:
    """P(c_0 = c): Binomial(width, p_one)."""
    c = np.arange(width + 1)
    return comb(width, c) * float(p_one) ** c * (1.0 - float(p_one)) ** (width - c)


def layer_is_and(depth: int, first_is_and: bool) -> np.ndarray:
    """bool[depth]: entry l - 1 says whether layer l is AND."""
    layer = np.arange(1, depth + 1)
    return (layer % 2 == 1) == bool(first_is_and)


def transitions(width: int, k: int, depth: int, first_is_and: bool) -> np.ndarray:
    """[depth, w+1, w+1]: entry l - 1 is the transition matrix from c_{l-1} to c_l."""
    both = np.stack([or_matrix(width, k), and_matrix(width, k)])
    return both[layer_is_and(depth, first_is_and).astype(int)]


def d1_backward(width: int, k: int, depth: int, first_is_and: bool, target: int) -> np.ndarray:
    """beta[l, c] = P(d1 = target | c_l = c) restricted to layers >= l, for l = 0..depth.

    d1 = t is the event {c_t > 0 (t >= 1)} and {c_{t+1} = 0 (t < D)}; beta_l(c)
    is g_l(c) sum_c' T_{l+1}[c, c'] beta_{l+1}(c') with those constraints g.
    Forward sampling c_l ~ T_l[c_{l-1}, :] * beta_l gives the path given d1 = t.
    """
    if not 0 <= target <= depth:
        raise ValueError(f"target must be in 0..{depth}, got {target}")
    trans = transitions(width, k, depth, first_is_and)
    g = np.ones((depth + 1, width + 1))
    if target >= 1:
        g[target, 0] = 0.0
    if target < depth:
        g[target + 1, 1:] = 0.0
    beta = np.empty((depth + 1, width + 1))
    beta[depth] = g[depth]
    for layer in range(depth - 1, -1, -1):
        beta[layer] = g[layer] * (trans[layer] @ beta[layer + 1])
    return beta


def d1_law(width: int, depth: int, k: int, p_one: float) -> np.ndarray:
    """P(d1 = t) for t = 0..depth, over input bits, first_is_and and permutations."""
    pi0 = input_law(width, p_one)
    return np.array([sum(0.5 * pi0 @ d1_backward(width, k, depth, kind, t)[0] for kind in (False, True)) for t in range(depth + 1)])


def future_law(width: int, k: int, depth: int, first_is_and: bool, s: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The law of the layers beyond s given c_s = count.

    Returns (last, joint): last[t] = P(max{l > s : c_l > 0} = t | c_s) with
    t = 0 for "none"; joint[l, a, t] = P(c_l = a, last = t | c_s) for
    l = 0..depth (zero for l <= s). d1 = last when last > 0, else the
    deepest layer l in 1..s with c_l > 0 (0 if none).
    """
    if not 0 <= s <= depth:
        raise ValueError(f"s must be in 0..{depth}, got {s}")
    trans = transitions(width, k, depth, first_is_and)
    n = width + 1
    # reach[l, a, t] = P(last = t | c_l = a), "last" counting layers > max(l, s) and l itself when l > s.
    reach = np.zeros((depth + 1, n, depth + 1))
    reach[depth, 1:, depth] = 1.0
    reach[depth, 0, 0] = 1.0
    for layer in range(depth - 1, s - 1, -1):
        nxt = trans[layer]  # c_layer -> c_{layer+1}
        reach[layer] = nxt[:, 1:] @ reach[layer + 1, 1:]
        stop = nxt[:, 0]  # the ones die at layer + 1
        reach[layer, 1:, layer if layer > s else 0] += stop[1:]
        reach[layer, 0, 0] += stop[0]
    # at l = s the own layer does not count: recompute from the next layer
    start = np.zeros(n)
    start[count] = 1.0
    joint = np.zeros((depth + 1, n, depth + 1))
    if s == depth:
        last = np.zeros(depth + 1)
        last[0] = 1.0
        return last, joint
    p = start
    for layer in range(s + 1, depth + 1):
        p = p @ trans[layer - 1]
        joint[layer] = p[:, None] * reach[layer]
    last = joint[s + 1].sum(0)
    return last, joint


def sample_paths(
    width: int, depth: int, k: int, p_one: float, n: int, rng: np.random.Generator, *, stratified: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n count paths (counts [n, depth + 1] for layers 0..D, first_is_and [n], d1 [n]).

    stratified: d1 uniform over 0..D and the path drawn given d1 (the law of
    `LayeredBiregular(stratify_d1=True)`); else unconditioned draws.
    """
    counts = np.zeros((n, depth + 1), int)
    kinds = rng.random(n) < 0.5
    targets = rng.integers(0, depth + 1, n) if stratified else np.full(n, -1)
    pi0 = input_law(width, p_one)
    if stratified:
        for t in range(depth + 1):
            sel = np.flatnonzero(targets == t)
            if not sel.size:
                continue
            betas = {kind: d1_backward(width, k, depth, kind, t) for kind in (False, True)}
            weight = np.array([pi0 @ betas[False][0], pi0 @ betas[True][0]])
            kinds[sel] = rng.random(sel.size) < weight[1] / weight.sum()
            for kind in (False, True):
                rows = sel[kinds[sel] == kind]
                _walk(counts, rows, pi0, transitions(width, k, depth, kind), betas[kind], rng)
    else:
        for kind in (False, True):
            rows = np.flatnonzero(kinds == kind)
            _walk(counts, rows, pi0, transitions(width, k, depth, kind), np.ones((depth + 1, width + 1)), rng)
    layer = np.arange(1, depth + 1)
    d1 = np.max(np.where(counts[:, 1:] > 0, layer, 0), axis=1)
    return counts, kinds, d1


def _walk(counts, rows, pi0, trans, beta, rng) -> None:
    if not rows.size:
        return
    p = pi0 * beta[0]
    counts[rows, 0] = _draw(np.broadcast_to(p, (rows.size, p.size)), rng)
    for layer in range(1, counts.shape[1]):
        p = trans[layer - 1][counts[rows, layer - 1]] * beta[layer]
        counts[rows, layer] = _draw(p, rng)


def _draw(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cdf = np.cumsum(p, axis=1)
    u = rng.random(p.shape[0]) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(1), p.shape[1] - 1)
