"""Layered biregular circuits: a family whose answer needs the whole depth.

Layer l (1..depth) holds `width` gates of one kind, alternating AND/OR; it
reads layer l - 1 (layer 0 = the `width` circuit inputs) through `k`
independent uniform random permutations, so every gate has fan-in exactly k
and every node below the top layer fan-out exactly k. Every gate's
certificate depth equals its depth, so cert(d1) = depth on every instance,
and after L rounds of colour refinement every gate deeper than L has the
colour of every other gate of its layer. Why that matters, and the numbers:
docs/hard-instances.md.

The d1-stratified draw is direct (no rejection): the count of 1s per layer is
a Markov chain (`do1rl.core.count_chain`), so a target t is drawn uniformly,
then the layer kind and the count path given d1 = t from the exact chain,
and then a circuit uniformly among those with that count path.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from scipy.special import comb

from do1rl.core import checks, count_chain, limits, random_bits
from do1rl.core.circuit import AND, INPUT_0, INPUT_1, OR, Circuit
from do1rl.core.generators import generator_dataclass

__all__ = ["LayeredBiregular", "save_instances"]


def table_bytes(width: int, depth: int) -> int:
    """Bytes of the direct sampler's largest table (`beta`, float64[depth + 1, 2, depth + 1, width + 1])."""
    return 8 * 2 * (depth + 1) ** 2 * (width + 1)


@lru_cache(maxsize=32)
def _tables(width: int, depth: int, k: int) -> dict[str, np.ndarray]:
    """The static tables of the direct sampler, keyed on (width, depth, k).

    trans[kind]: the count chain's transition matrices (kind 0 = OR, 1 = AND);
    beta[t, kind, l]: P(d1 = t | c_l) over layers >= l, scaled to max 1 per
    (t, kind, l), with log_scale[t, kind] the log of layer 0's scale; hyper[a]:
    the intersection step for a-subsets; to_go[a, r, m, b]: P(intersection
    size b after r more a-subsets | size m now).
    """
    n = width + 1
    beta = np.zeros((depth + 1, 2, depth + 1, n))
    log_scale = np.full((depth + 1, 2), -np.inf)
    for t in range(depth + 1):
        for kind in (0, 1):
            b = count_chain.d1_backward(width, k, depth, bool(kind), t)
            scale = b.max(1)
            ok = scale > 0
            beta[t, kind] = np.where(ok[:, None], b / np.where(ok, scale, 1.0)[:, None], 0.0)
            if ok[0]:
                log_scale[t, kind] = np.log(scale[0])
    hyper = np.stack([count_chain.intersection_step(width, a) for a in range(n)])
    to_go = np.zeros((n, k + 1, n, n))
    for a in range(n):
        power = np.eye(n)
        for r in range(k + 1):
            to_go[a, r] = power
            power = hyper[a] @ power
    trans = np.stack([count_chain.or_matrix(width, k), count_chain.and_matrix(width, k)])
    return {"trans": trans, "beta": beta, "log_scale": log_scale, "hyper": hyper, "to_go": to_go}


def _pick(p: jax.Array, u: jax.Array) -> jax.Array:
    """Index i with probability p[i] / sum(p), from u uniform in [0, 1); never an index with p[i] = 0."""
    cdf = jnp.cumsum(p)
    index = jnp.sum(cdf <= u * cdf[-1])
    last = p.shape[0] - 1 - jnp.argmax(p[::-1] > 0)
    return jnp.minimum(index, last).astype(jnp.int32)


def _first_of(mask: jax.Array, count: jax.Array, order: jax.Array) -> jax.Array:
    """bool[w]: the first `count` members of `mask` in the order `order` (a uniform permutation: a uniform subset)."""
    in_order = mask[order]
    rank = jnp.cumsum(in_order) - 1
    chosen = in_order & (rank < count)
    return jnp.zeros_like(mask).at[order].set(chosen)


@generator_dataclass
class LayeredBiregular:
    """Random layered biregular alternating circuits, optionally d1-stratified.

    Attributes:
      width: gates per layer (and number of circuit inputs).
      depth: layers D.
      k: fan-in and fan-out of every gate (the number of permutations), in wires: a gate may
        read one node more than once, and does whenever k > width (a multigraph).
      p_one: probability that an input bit is 1.
      stratify_d1: draw a target t uniform over 0..depth, then a circuit from
        the family's law conditioned on d1 = t, exactly (direct sampling from
        the count chain; docs/hard-instances.md). Construction raises
        ValueError when some d1 in 0..depth has probability 0 (width 1, k 1,
        or p_one 0 or 1 given as a number); a p_one of 0 or 1 passed in later
        as a traced value gives NaN-free but meaningless draws, so don't.
      candidates, max_rounds: deprecated, unused (the rejection sampler's
        batch size and rounds; kept so existing callers still construct).
    """

    width: int = struct.field(pytree_node=False, default=4)
    depth: int = struct.field(pytree_node=False, default=8)
    k: int = struct.field(pytree_node=False, default=2)
    stratify_d1: bool = struct.field(pytree_node=False, default=True)
    candidates: int = struct.field(pytree_node=False, default=64)
    max_rounds: int = struct.field(pytree_node=False, default=64)
    p_one: float = 0.6

    def __post_init__(self):
        checks.check_generator(self)
        if not self.stratify_d1:
            return
        p_one = self.p_one
        known = isinstance(p_one, (int, float, np.floating, np.integer)) or (
            isinstance(p_one, (np.ndarray, jax.Array)) and not isinstance(p_one, jax.core.Tracer) and np.ndim(p_one) == 0
        )
        if known and not 0.0 < float(p_one) < 1.0:
            raise ValueError(f"stratify_d1 needs 0 < p_one < 1 (else some d1 is impossible), got p_one={float(p_one)}")
        need = table_bytes(int(self.width), int(self.depth))
        if need > limits.MAX_TABLE_BYTES:
            raise ValueError(
                f"stratify_d1 at depth {self.depth}, width {self.width} needs {need / 2**20:,.0f} MiB of sampler tables "
                f"(they grow as depth^2), over the limit of {limits.MAX_TABLE_BYTES >> 20} MiB; "
                "use stratify_d1=False or a smaller depth"
            )
        tables = _tables(int(self.width), int(self.depth), int(self.k))
        impossible = np.flatnonzero(np.all(np.isinf(tables["log_scale"]), axis=1))
        if impossible.size:
            raise ValueError(
                f"stratify_d1: d1 = {impossible.tolist()} has probability 0 at width {self.width}, k {self.k}, "
                f"depth {self.depth}; use stratify_d1=False"
            )

    @property
    def num_nodes(self) -> int:
        return self.width * (self.depth + 1)

    @property
    def max_gates(self) -> int:
        return self.width * self.depth

    @property
    def max_depth(self) -> int:
        return self.depth

    def d1_law(self) -> np.ndarray:
        """P(d1 = t), t = 0..depth: uniform with `stratify_d1`, else the count chain's exact law."""
        if self.stratify_d1:
            return np.full(self.depth + 1, 1.0 / (self.depth + 1))
        return count_chain.d1_law(int(self.width), int(self.depth), int(self.k), float(self.p_one))

    @property
    def layers(self) -> tuple[tuple[int, int], ...]:
        """The slots of each depth's gates (`Circuit.layers`): `width` per layer after the inputs."""
        w = self.width
        return tuple((d * w, (d + 1) * w) for d in range(1, self.depth + 1))

    def _circuit(self, bits: jax.Array, first_is_and: jax.Array, perms: jax.Array) -> Circuit:
        """The circuit of input bits [w], layer 1's kind and permutations [depth, k, w]."""
        w, depth, k = self.width, self.depth, self.k
        layer = jnp.arange(1, depth + 1)
        below = (layer - 1) * w  # first node of layer l - 1
        # fanin[l, i, j] = node of layer l - 1 that gate i of layer l reads through permutation j.
        fanin = below[:, None, None] + jnp.swapaxes(perms, 1, 2)
        layer_is_and = (layer % 2 == 1) == first_is_and
        gate_type = jnp.repeat(jnp.where(layer_is_and, AND, OR), w)
        node_type = jnp.concatenate([jnp.where(bits, INPUT_1, INPUT_0), gate_type]).astype(jnp.int8)
        fanin = jnp.concatenate([jnp.full((w, k), -1, jnp.int32), fanin.reshape(depth * w, k)]).astype(jnp.int32)
        depths = jnp.repeat(jnp.arange(depth + 1), w).astype(jnp.int32)
        return Circuit(node_type=node_type, fanin=fanin, depth=depths, eval_width=w, layers=self.layers)

    def sample(self, key: jax.Array) -> Circuit:
        """One unconditioned draw (d1 as the family makes it)."""
        w, depth, k = self.width, self.depth, self.k
        words = random_bits.draw(
            key,
            {"input_bit": (w,), "first_is_and": (), "permutation": (depth, k, random_bits.permutation_rounds(w), w)},
        )
        bits = random_bits.bernoulli(words["input_bit"], self.p_one)
        perms = random_bits.permutations(words["permutation"])  # [depth, k, w]
        first_is_and = random_bits.bernoulli(words["first_is_and"], 0.5)
        return self._circuit(bits, first_is_and, perms)

    def sample_given_d1(self, key: jax.Array, target: jax.Array) -> Circuit:
        """One draw from the family's law conditioned on d1 = `target` (int32[], 0..depth), exactly.

        Draws layer 1's kind and the count path c_0..c_D from the count chain
        given d1 = target (forward sampling with backward messages), the input
        bits as a uniform c_0-subset, and for each layer the k sets
        A_j = perm_j^-1(S) (S: the 1s of the layer below for AND, its 0s for
        OR) given |A_1 n ... n A_k| = the layer's count of outputs equal to
        |S|'s value (again forward sampling with backward messages over the
        intersection chain), then each perm_j uniformly among the permutations
        with perm_j^-1(S) = A_j.
        """
        w, depth, k = self.width, self.depth, self.k
        tables = _tables(w, depth, k)
        rounds = random_bits.permutation_rounds(w)
        words = random_bits.draw(
            key,
            {
                "kind": (),
                "count": (depth + 1,),
                "intersection": (depth, k),
                "input_order": (rounds, w),
                "subset_order": (depth, k, rounds, w),
                "gate_order": (depth, k, rounds, w),
            },
        )
        target = jnp.asarray(target, jnp.int32)
        c = jnp.arange(w + 1)
        p_one = jnp.asarray(self.p_one, jnp.float32)
        pi0 = jnp.asarray(comb(w, np.arange(w + 1)), jnp.float32) * p_one**c * (1.0 - p_one) ** (w - c)
        beta = jnp.asarray(tables["beta"], jnp.float32)[target]  # [2, D + 1, w + 1]
        log_scale = jnp.asarray(tables["log_scale"], jnp.float32)[target]  # [2]
        mass = pi0 @ beta[:, 0].T  # [2]
        top = jnp.max(jnp.where(mass > 0, log_scale, -jnp.inf))
        weight = mass * jnp.exp(jnp.where(mass > 0, log_scale - top, 0.0))
        first_is_and = random_bits.uniform(words["kind"]) * (weight[0] + weight[1]) >= weight[0]
        path_beta = beta[first_is_and.astype(jnp.int32)]  # [D + 1, w + 1]
        uniform = random_bits.uniform
        c0 = _pick(pi0 * path_beta[0], uniform(words["count"][0]))
        input_order = random_bits.permutations(words["input_order"])
        bits = jnp.zeros((w,), bool).at[input_order].set(jnp.arange(w) < c0)

        trans = jnp.asarray(tables["trans"], jnp.float32)
        hyper = jnp.asarray(tables["hyper"], jnp.float32)
        to_go = jnp.asarray(tables["to_go"], jnp.float32)
        layer = jnp.arange(1, depth + 1)
        is_and = (layer % 2 == 1) == first_is_and
        everyone = jnp.ones((w,), bool)

        def one_layer(carry, xs):
            ones_below, count_below = carry
            layer_and, beta_l, u_count, u_inter, subset_words, gate_words = xs
            count = _pick(trans[layer_and.astype(jnp.int32), count_below] * beta_l, u_count)
            hot = jnp.where(layer_and, ones_below, ~ones_below)  # S: inputs that decide a gate's output alone
            a = jnp.sum(hot)
            final = jnp.where(layer_and, count, w - count)  # |A_1 n ... n A_k|
            node_order = jnp.argsort(~hot, stable=True)  # S's nodes first
            inter, size, perms = everyone, jnp.int32(w), []
            for j in range(k):
                p = hyper[a, size] * to_go[a, k - 1 - j, :, final]
                new_size = _pick(p, u_inter[j])
                order = random_bits.permutations(subset_words[j])
                subset = _first_of(inter, new_size, order) | _first_of(~inter, a - new_size, order)
                shuffle = random_bits.permutations(gate_words[j])
                gate_order = shuffle[jnp.argsort(~subset[shuffle], stable=True)]  # A_j's gates first, random order
                perms.append(jnp.zeros((w,), jnp.int32).at[gate_order].set(node_order.astype(jnp.int32)))
                inter, size = inter & subset, new_size
            ones = jnp.where(layer_and, inter, ~inter)
            return (ones, count), jnp.stack(perms)

        xs = (
            is_and,
            path_beta[1:],
            uniform(words["count"][1:]),
            uniform(words["intersection"]),
            words["subset_order"],
            words["gate_order"],
        )
        _, perms = jax.lax.scan(one_layer, (bits, c0), xs)
        return self._circuit(bits, first_is_and, perms)

    def __call__(self, key: jax.Array) -> Circuit:
        if not self.stratify_d1:
            return self.sample(key)
        k_target, k_draw = jax.random.split(key)
        target = random_bits.draw_randint(k_target, self.depth + 1)
        return self.sample_given_d1(k_draw, target)


def save_instances(generator, seed: int, count: int, folder: str | os.PathLike) -> list[Path]:
    """Draws `count` circuits (instance i uses `fold_in(key(seed), i)`) and saves them as circuit files."""
    from do1rl.core import circuit_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(jnp.arange(count))
    batch = jax.device_get(jax.jit(jax.vmap(generator))(keys))
    paths = []
    for i in range(count):
        path = folder / f"instance_{i:05d}.json"
        circuit_file.save(jax.tree.map(lambda x, i=i: np.asarray(x[i]), batch), path)
        paths.append(path)
    return paths
