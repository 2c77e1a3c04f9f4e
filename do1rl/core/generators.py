"""Instance generators: jittable, vmappable functions of a PRNG key.

Every generator is a frozen pytree with static sizes (which fix the shapes
of the circuits it makes) and a `__call__(key) -> Circuit`. Environments take
a generator as their instance source.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, TypeVar, dataclass_transform

import jax
import jax.numpy as jnp
from flax import serialization, struct

from do1rl.core import checks, random_bits
from do1rl.core.circuit import AND, INPUT_0, INPUT_1, OR, PAD, Circuit

# At depth 16, AND gates that read an extra circuit input with this
# probability keep d1 spread over [0, depth] (see docs/generators.md).
_INPUT_READS_AT_DEPTH_16 = 0.9


_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, field_specifiers=(struct.field, dataclasses.field))
def generator_dataclass(cls: type[_T]) -> type[_T]:
    """A frozen pytree dataclass, as `flax.struct.dataclass`, that jax rebuilds without its constructor.

    Fields are pytree leaves unless declared `struct.field(pytree_node=False)`
    (static, part of the tree's structure); `replace` and flax's state-dict
    serialization work as for `flax.struct` (a restore, like a rebuild,
    skips the checks: it holds what was saved). The difference: a `flax.struct`
    class is rebuilt by calling it, so under jit, vmap, grad, `jax.tree.map`
    or an in_axes tree its `__post_init__` sees tracers, batched arrays and
    placeholders (`None`, `object()`, bools, shardings) and cannot refuse
    them. Rebuilt here field by field, the `__post_init__` of a class made
    by this decorator runs only when someone calls it, so
    `checks.check_generator` applies the full rules (a probability is one
    number or a tracer, never None or an array of several values).
    """
    data_clz: Any = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(data_clz)
    data = tuple(f.name for f in fields if f.metadata.get("pytree_node", True))
    meta = tuple(f.name for f in fields if not f.metadata.get("pytree_node", True))

    def flatten_with_keys(x):
        return [(jax.tree_util.GetAttrKey(n), getattr(x, n)) for n in data], tuple(getattr(x, n) for n in meta)

    def flatten(x):
        return [getattr(x, n) for n in data], tuple(getattr(x, n) for n in meta)

    def build(values: dict[str, Any]):  # no constructor, no checks: for values jax or a checkpoint hands back
        out = object.__new__(data_clz)
        for name, value in values.items():
            object.__setattr__(out, name, value)
        return out

    def unflatten(aux, children):
        return build({**dict(zip(meta, aux, strict=True)), **dict(zip(data, children, strict=True))})

    jax.tree_util.register_pytree_with_keys(data_clz, flatten_with_keys, unflatten, flatten)

    def to_state_dict(x):
        return {n: serialization.to_state_dict(getattr(x, n)) for n in data}

    def from_state_dict(x, state):
        unknown = sorted(set(state) - set(data))
        missing = [n for n in data if n not in state]
        if unknown or missing:
            raise ValueError(f"{data_clz.__name__} state dict: missing {missing}, unknown {unknown}")
        restored = {n: serialization.from_state_dict(getattr(x, n), state[n], name=n) for n in data}
        return build({**{n: getattr(x, n) for n in meta}, **restored})

    serialization.register_serialization_state(data_clz, to_state_dict, from_state_dict)
    data_clz.replace = lambda self, **updates: dataclasses.replace(self, **updates)
    data_clz._rebuilt_without_checks = True  # read by checks.check_generator
    return data_clz


class Generator(Protocol):
    """What an environment needs of a generator: a jittable `key -> Circuit` and static size bounds."""

    @property
    def num_nodes(self) -> int:
        """Node slots (inputs and gates, padding included) of every circuit it makes."""

    @property
    def max_depth(self) -> int:
        """Bound on the depth of any circuit it makes."""

    @property
    def max_gates(self) -> int:
        """Bound on the number of gates of any circuit it makes."""

    def __call__(self, key: jax.Array) -> Circuit:
        """A padded circuit drawn with `key` (jittable and vmappable)."""


@generator_dataclass
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

    All random words come from one `jax.random.bits` call (`random_words`
    names them); each value follows the rule of the `jax.random` function
    that would draw it (`do1rl.core.random_bits`).

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

    def __post_init__(self):
        checks.check_generator(self)

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

    def random_words(self) -> dict[str, tuple[int, ...]]:
        """The shape of each group of random words one circuit uses (`random_bits.draw`)."""
        depth, width, two = self.depth, self.width, random_bits.RANDINT_WORDS
        reads = self.max_fanin - 1
        gates, upper = depth * width, (depth - 1) * width  # all gates; those above layer 1
        skippers = max(depth - 3, 0) * width  # gates of layer >= 4, the ones with a layer to skip to
        and_gates = depth // 2 * width  # one AND layer in each pair of layers above layer 1 (2-3, 4-5, ...)
        return {
            "input_bit": (self.n_inputs,),
            "first_is_and": (0 if self.prefix_chain else 1,),
            "first_layer_read": (width, reads, two),
            "offset": (upper, reads, two),
            "used": (gates, reads - 1),
            "skip": (skippers, reads - 1),
            "skip_layer": (skippers, reads - 1),
            "and_reads_input": (and_gates, 1),
            "and_input": (and_gates, 1, two),
        }

    def random_choices(self, key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(input bits bool[n], layer 1 is AND bool[], the gates' fan-in int32[depth * width, max_fanin]).

        Everything random about a circuit, from one draw of words.
        """
        n, depth, width, chain = self.n_inputs, self.depth, self.width, self.prefix_chain
        words = random_bits.draw(key, self.random_words())
        bits = random_bits.bernoulli(words["input_bit"], self.p_one)
        # Layer 1 is AND under a chain prefix, else random.
        first_is_and = jnp.bool_(True) if chain else random_bits.bernoulli(words["first_is_and"][0], 0.5)
        gate_layer, gate_is_and = self.gate_layers_and_kinds(first_is_and)

        reads = self.max_fanin - 1  # gate-read slots; the last slot is the AND input read
        shape, column = (depth * width, reads), (depth * width, 1)
        # Words are drawn only for the gates and slots that use them (`random_words`); `_at_end` fills the rest.
        layer_start = lambda layer: self.first_gate_node + (layer - 1) * width
        offset = _at_end(random_bits.randint(words["offset"], width), shape, 0)
        prev_gate = layer_start(gate_layer - 1)[:, None] + offset
        # Skip edges: a gate of layer l - 3 - 2j, j uniform over the layers that exist.
        n_skip_layers = jnp.maximum((gate_layer - 2) // 2, 0)[:, None]
        j = jnp.floor(_at_end(random_bits.uniform(words["skip_layer"]), shape, 0.0) * n_skip_layers).astype(jnp.int32)
        skip_gate = layer_start(gate_layer[:, None] - 3 - 2 * j) + offset
        reads_skip = _at_end(random_bits.bernoulli(words["skip"], self.skip_prob), shape, False)  # not slot 0
        source = jnp.where(reads_skip, skip_gate, prev_gate)
        source = jnp.concatenate([random_bits.randint(words["first_layer_read"], n), source[width:]])
        used = _at_end(random_bits.bernoulli(words["used"], 0.5), shape, True)  # slot 0 always reads
        # An AND gate above layer 1 reads one more, random, circuit input. Each pair of layers above
        # layer 1 (2-3, 4-5, ...) holds one AND layer, which alone uses the pair's words.
        both_layers = lambda x: jnp.repeat(x.reshape(-1, 1, width, 1), 2, axis=1).reshape(-1, 1)[: (depth - 1) * width]
        and_reads_input = gate_is_and[:, None] & _at_end(
            both_layers(random_bits.bernoulli(words["and_reads_input"], self.input_prob)), column, False
        )
        input_read = _at_end(both_layers(random_bits.randint(words["and_input"], n)), column, -1)
        input_slot = jnp.where(and_reads_input, input_read, -1)
        return bits, first_is_and, jnp.concatenate([jnp.where(used, source, -1), input_slot], axis=1).astype(jnp.int32)

    @property
    def first_gate_node(self) -> int:
        """Node index of layer 1's first gate (after the inputs and any chain prefix)."""
        return self.n_inputs + (1 + self.prefix_chain if self.prefix_chain else 0)

    def gate_layers_and_kinds(self, first_is_and: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(layer int[depth * width], is AND bool[depth * width]) of each gate."""
        layer = jnp.arange(1, self.depth + 1)
        layer_is_and = (layer % 2 == 1) == first_is_and
        return jnp.repeat(layer, self.width), jnp.repeat(layer_is_and, self.width)

    def __call__(self, key: jax.Array) -> Circuit:
        n, width, chain = self.n_inputs, self.width, self.prefix_chain
        bits, first_is_and, fanin = self.random_choices(key)
        gate_layer, gate_is_and = self.gate_layers_and_kinds(first_is_and)
        first_layer = (gate_layer == 1)[:, None]
        layer_base = self.first_gate_node
        gate_depth = gate_layer + chain
        gate_type = jnp.where(gate_is_and, AND, OR)
        if chain:
            top = layer_base - 1
            fanin = jnp.concatenate([fanin, jnp.where(first_layer, top, -1).astype(jnp.int32)], axis=1)
            chain_fanin = jnp.full((chain, self.fanin_slots), -1, jnp.int32)
            chain_fanin = chain_fanin.at[:, 0].set(jnp.arange(n, n + chain))  # input n, then gate below
            i = jnp.arange(1, chain + 1)
            chain_type = jnp.where((chain - i) % 2 == 0, OR, AND)
            node_type = jnp.concatenate([jnp.where(bits, INPUT_1, INPUT_0), jnp.array([INPUT_1]), chain_type, gate_type])
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


def _at_end(x: jax.Array, shape: tuple[int, ...], fill) -> jax.Array:
    """An array of `shape` filled with `fill`, with `x` in its last rows and columns."""
    corner = tuple(slice(size - part, None) for size, part in zip(shape, x.shape, strict=True))
    return jnp.full(shape, fill, x.dtype).at[corner].set(x)


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
        random_length = 1 + random_bits.draw_randint(key, self.max_length)
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
        index = random_bits.draw_randint(key, size)
        return jax.tree.map(lambda x: x[index], self.circuits)
