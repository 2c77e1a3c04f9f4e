"""Instance generators: jittable, vmappable functions of a PRNG key.

Every generator is a frozen pytree with static sizes (which fix the shapes
of the circuits it makes) and a `__call__(key) -> Circuit`. Environments take
a generator as their instance source.
"""

from __future__ import annotations

from typing import Protocol

import jax
import jax.numpy as jnp
from flax import struct

from do1rl.core.circuit import AND, INPUT_0, INPUT_1, OR, PAD, Circuit

# At depth 16, AND gates that read an extra circuit input with this
# probability keep d1 spread over [0, depth] (see docs/generators.md).
_INPUT_READS_AT_DEPTH_16 = 0.9


class Generator(Protocol):
    """What an environment needs of a generator: a jittable `key -> Circuit` and static size bounds."""

    @property
    def max_depth(self) -> int:
        """Bound on the depth of any circuit it makes."""

    @property
    def max_gates(self) -> int:
        """Bound on the number of gates of any circuit it makes."""

    def __call__(self, key: jax.Array) -> Circuit:
        """A padded circuit drawn with `key` (jittable and vmappable)."""


@struct.dataclass
class RandomAlternating:
    """Random layered alternating circuits, optionally chain-prefixed.

    Layer l holds `width` gates of one kind, alternating AND/OR. Each gate
    reads 1 to `max_fanin - 1` gates: the first from layer l-1 (so its depth
    is exactly l), each further one with probability 1/2, and each of those a
    skip edge to layer l-3, l-5, ... (which keeps alternation) with
    probability `skip_prob`. An AND gate above layer 1 also reads one random
    circuit input with probability `input_prob`: that read is what keeps
    values from locking at all-1, so d1 spreads over [0, depth]. Layer-1
    gates read 1 to `max_fanin - 1` circuit inputs.

    With `prefix_chain = L > 0` an alternating chain of L gates ending in an OR
    sits beneath the circuit, reading an extra input whose bit is 1; layer 1
    is then AND and each layer-1 gate also reads the chain's top.

    Attributes:
      n_inputs, depth, width, max_fanin, prefix_chain: static sizes.
      p_one: probability that an input bit is 1.
      skip_prob: probability that a free fan-in slot is a skip edge.
      input_prob: probability that a free fan-in slot of an AND gate reads a
        circuit input. The default keeps d1 spread over [0, depth].
    """

    n_inputs: int = struct.field(pytree_node=False, default=12)
    depth: int = struct.field(pytree_node=False, default=16)
    width: int = struct.field(pytree_node=False, default=12)
    max_fanin: int = struct.field(pytree_node=False, default=3)
    prefix_chain: int = struct.field(pytree_node=False, default=0)
    p_one: float = 0.5
    skip_prob: float = 0.1
    input_prob: float = _INPUT_READS_AT_DEPTH_16

    @property
    def num_nodes(self) -> int:
        extra_input = 1 if self.prefix_chain else 0
        return self.n_inputs + extra_input + self.prefix_chain + self.depth * self.width

    @property
    def fanin_slots(self) -> int:
        return self.max_fanin + (1 if self.prefix_chain else 0)

    @property
    def max_gates(self) -> int:
        return self.prefix_chain + self.depth * self.width

    @property
    def max_depth(self) -> int:
        return self.prefix_chain + self.depth

    @property
    def layers(self) -> tuple[tuple[int, int], ...]:
        """The slots of each depth's gates (`Circuit.layers`): the chain's gates one by one, then `width` per layer."""
        first = self.n_inputs + (1 if self.prefix_chain else 0)
        chain = tuple((first + i, first + i + 1) for i in range(self.prefix_chain))
        base = first + self.prefix_chain
        return chain + tuple((base + i * self.width, base + (i + 1) * self.width) for i in range(self.depth))

    def __call__(self, key: jax.Array) -> Circuit:
        n, depth, width, chain = self.n_inputs, self.depth, self.width, self.prefix_chain
        k_bits, k_first, k_used, k_kind, k_skip, k_pick, k_input = jax.random.split(key, 7)

        bits = jax.random.bernoulli(k_bits, self.p_one, (n,))
        first_base = n + (1 if chain else 0)  # first chain gate
        layer_base = first_base + chain  # first gate of layer 1

        # Types: layer 1 is AND under a chain prefix, else random.
        first_is_and = jnp.bool_(True) if chain else jax.random.bernoulli(k_first)
        layer = jnp.arange(1, depth + 1)
        layer_is_and = (layer % 2 == 1) == first_is_and  # [depth]
        gate_is_and = jnp.repeat(layer_is_and, width)  # [depth*width]
        gate_layer = jnp.repeat(layer, width)

        reads = self.max_fanin - 1  # gate-read slots; the last slot is the AND input read
        shape = (depth * width, reads)
        layer_start = lambda layer: layer_base + (layer - 1) * width
        offset = jax.random.randint(k_pick, shape, 0, width)
        prev_gate = layer_start(gate_layer - 1)[:, None] + offset
        # Skip edges: a gate of layer l - 3 - 2j, j uniform over the layers that exist.
        n_skip_layers = jnp.maximum((gate_layer - 2) // 2, 0)[:, None]
        j = jnp.floor(jax.random.uniform(k_skip, shape) * n_skip_layers).astype(jnp.int32)
        skip_gate = layer_start(gate_layer[:, None] - 3 - 2 * j) + offset
        free_slot = jnp.arange(reads) > 0  # slot 0 always reads layer l-1
        reads_skip = free_slot & (n_skip_layers > 0) & jax.random.bernoulli(k_kind, self.skip_prob, shape)
        source = jnp.where(reads_skip, skip_gate, prev_gate)
        first_layer = (gate_layer == 1)[:, None]
        source = jnp.where(first_layer, jax.random.randint(k_input, shape, 0, n), source)
        used = jax.random.bernoulli(k_used, 0.5, shape) | ~free_slot
        # An AND gate above layer 1 reads one more, random, circuit input.
        k_and, k_which = jax.random.split(k_input)
        and_reads_input = (gate_is_and & (gate_layer > 1))[:, None] & jax.random.bernoulli(
            k_and, self.input_prob, (depth * width, 1)
        )
        input_slot = jnp.where(and_reads_input, jax.random.randint(k_which, (depth * width, 1), 0, n), -1)
        fanin = jnp.concatenate([jnp.where(used, source, -1), input_slot], axis=1).astype(jnp.int32)

        gate_depth = gate_layer + chain
        gate_type = jnp.where(gate_is_and, AND, OR)
        if chain:
            top = layer_base - 1
            fanin = jnp.concatenate(
                [fanin, jnp.where(first_layer, top, -1).astype(jnp.int32)], axis=1
            )
            chain_fanin = jnp.full((chain, self.fanin_slots), -1, jnp.int32)
            chain_fanin = chain_fanin.at[:, 0].set(jnp.arange(n, n + chain))  # input n, then gate below
            i = jnp.arange(1, chain + 1)
            chain_type = jnp.where((chain - i) % 2 == 0, OR, AND)
            node_type = jnp.concatenate(
                [jnp.where(bits, INPUT_1, INPUT_0), jnp.array([INPUT_1]), chain_type, gate_type]
            )
            fanin = jnp.concatenate([jnp.full((n + 1, self.fanin_slots), -1, jnp.int32), chain_fanin, fanin])
            depths = jnp.concatenate([jnp.zeros(n + 1, jnp.int32), i, gate_depth])
        else:
            node_type = jnp.concatenate([jnp.where(bits, INPUT_1, INPUT_0), gate_type])
            fanin = jnp.concatenate([jnp.full((n, self.fanin_slots), -1, jnp.int32), fanin])
            depths = jnp.concatenate([jnp.zeros(n, jnp.int32), gate_depth])
        return Circuit(
            node_type=node_type.astype(jnp.int8),
            fanin=fanin,
            depth=depths.astype(jnp.int32),
            eval_width=width,
            layers=self.layers,
        )


def chain(length: jax.Array | int, max_length: int) -> Circuit:
    """The chain OR -> AND -> OR ... of `length` gates (1 <= length <= max_length).

    Node 0 is its input (bit 1); gate i (1-based) is node i, with depth i.
    Slots past `length` are padding, so chains of any length share a shape.
    """
    i = jnp.arange(1, max_length + 1)
    real = i <= length
    gate_type = jnp.where(real, jnp.where(i % 2 == 1, OR, AND), PAD)
    node_type = jnp.concatenate([jnp.array([INPUT_1]), gate_type]).astype(jnp.int8)
    fanin = jnp.concatenate([jnp.array([-1]), jnp.where(real, i - 1, -1)])[:, None].astype(jnp.int32)
    depth = jnp.concatenate([jnp.array([0]), jnp.where(real, i, 0)]).astype(jnp.int32)
    return Circuit(node_type=node_type, fanin=fanin, depth=depth, eval_width=1)


@struct.dataclass
class Chains:
    """Chains of a fixed `length`, or of a uniform length in 1..max_length when length < 1."""

    max_length: int = struct.field(pytree_node=False, default=16)
    length: int = 0

    @property
    def num_nodes(self) -> int:
        return self.max_length + 1

    @property
    def max_depth(self) -> int:
        return self.max_length

    @property
    def max_gates(self) -> int:
        return self.max_length

    def __call__(self, key: jax.Array) -> Circuit:
        random_length = jax.random.randint(key, (), 1, self.max_length + 1)
        return chain(jnp.where(self.length >= 1, self.length, random_length), self.max_length)


@struct.dataclass
class CircuitPool:
    """Draws uniformly from a fixed batch of circuits (e.g. loaded from files).

    Attributes:
      circuits: a `Circuit` with a leading pool axis [P, ...].
    """

    circuits: Circuit

    @property
    def num_nodes(self) -> int:
        return self.circuits.num_nodes

    @property
    def max_depth(self) -> int:
        return int(jnp.max(self.circuits.depth))

    @property
    def max_gates(self) -> int:
        return int(jnp.max(jnp.sum(self.circuits.is_gate, axis=-1)))

    def __call__(self, key: jax.Array) -> Circuit:
        size = self.circuits.node_type.shape[0]
        index = jax.random.randint(key, (), 0, size)
        return jax.tree.map(lambda x: x[index], self.circuits)
