"""Layered biregular circuits: a family whose answer needs the whole depth.

Layer l (1..depth) holds `width` gates of one kind, alternating AND/OR; it
reads layer l - 1 (layer 0 = the `width` circuit inputs) through `k`
independent uniform random permutations, so every gate has fan-in exactly k
and every node below the top layer fan-out exactly k. Every gate's
certificate depth equals its depth, so cert(d1) = depth on every instance,
and after L rounds of colour refinement every gate deeper than L has the
colour of every other gate of its layer. Why that matters, and the numbers:
docs/hard-instances.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from do1rl.core import random_bits, solver
from do1rl.core.circuit import AND, INPUT_0, INPUT_1, OR, Circuit

__all__ = ["LayeredBiregular", "save_instances"]


@struct.dataclass
class LayeredBiregular:
    """Random layered biregular alternating circuits, optionally d1-stratified.

    Attributes:
      width: gates per layer (and number of circuit inputs).
      depth: layers D.
      k: fan-in and fan-out of every gate (the number of permutations).
      p_one: probability that an input bit is 1.
      stratify_d1: draw a target t uniform over 0..depth and return the first
        of up to `max_rounds` x `candidates` fresh draws whose d1 is t (the
        last draw if none is; docs/hard-instances.md gives the miss rate).
      candidates, max_rounds: rejection batch size and number of batches.
    """

    width: int = struct.field(pytree_node=False, default=4)
    depth: int = struct.field(pytree_node=False, default=8)
    k: int = struct.field(pytree_node=False, default=2)
    stratify_d1: bool = struct.field(pytree_node=False, default=True)
    candidates: int = struct.field(pytree_node=False, default=64)
    max_rounds: int = struct.field(pytree_node=False, default=64)
    p_one: float = 0.6

    @property
    def num_nodes(self) -> int:
        return self.width * (self.depth + 1)

    @property
    def max_gates(self) -> int:
        return self.width * self.depth

    @property
    def max_depth(self) -> int:
        return self.depth

    @property
    def layers(self) -> tuple[tuple[int, int], ...]:
        """The slots of each depth's gates (`Circuit.layers`): `width` per layer after the inputs."""
        w = self.width
        return tuple((d * w, (d + 1) * w) for d in range(1, self.depth + 1))

    def sample(self, key: jax.Array) -> Circuit:
        """One unconditioned draw (d1 as the family makes it)."""
        w, depth, k = self.width, self.depth, self.k
        words = random_bits.draw(
            key,
            {"input_bit": (w,), "first_is_and": (), "permutation": (depth, k, random_bits.permutation_rounds(w), w)},
        )
        bits = random_bits.bernoulli(words["input_bit"], self.p_one)
        perms = random_bits.permutations(words["permutation"])  # [depth, k, w]
        layer = jnp.arange(1, depth + 1)
        below = (layer - 1) * w  # first node of layer l - 1
        # fanin[l, i, j] = node of layer l - 1 that gate i of layer l reads through permutation j.
        fanin = below[:, None, None] + jnp.swapaxes(perms, 1, 2)
        first_is_and = random_bits.bernoulli(words["first_is_and"], 0.5)
        layer_is_and = (layer % 2 == 1) == first_is_and
        gate_type = jnp.repeat(jnp.where(layer_is_and, AND, OR), w)
        node_type = jnp.concatenate([jnp.where(bits, INPUT_1, INPUT_0), gate_type]).astype(jnp.int8)
        fanin = jnp.concatenate([jnp.full((w, k), -1, jnp.int32), fanin.reshape(depth * w, k)]).astype(jnp.int32)
        depths = jnp.repeat(jnp.arange(depth + 1), w).astype(jnp.int32)
        return Circuit(node_type=node_type, fanin=fanin, depth=depths, eval_width=w, layers=self.layers)

    def __call__(self, key: jax.Array) -> Circuit:
        if not self.stratify_d1:
            return self.sample(key)
        k_target, k_draws = jax.random.split(key)
        target = jax.random.randint(k_target, (), 0, self.depth + 1)

        def draw(round_index):
            keys = jax.random.split(jax.random.fold_in(k_draws, round_index), self.candidates)
            batch = jax.vmap(self.sample)(keys)
            hits = solver.solve_batch(batch).d1 == target
            pick = jnp.where(jnp.any(hits), jnp.argmax(hits), self.candidates - 1)
            return jax.tree.map(lambda x: x[pick], batch), jnp.any(hits)

        def body(carry):
            round_index, _, _ = carry
            circuit, found = draw(round_index)
            return round_index + 1, circuit, found

        first, found = draw(0)
        _, circuit, _ = jax.lax.while_loop(
            lambda c: ~c[2] & (c[0] < self.max_rounds), body, (jnp.int32(1), first, found)
        )
        return circuit


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
