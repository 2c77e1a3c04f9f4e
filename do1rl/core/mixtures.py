"""`Mixture`: draws each circuit from one of several generators, padded to one declared shape.

Components are drawn uniformly, or by `weights` (a pytree leaf, so a
training loop can move them under jit: the depth curriculum does).

Training on a mixture of circuit depths and testing on deeper circuits needs
one observation shape and one feature scale for both: declare the test
size (`num_nodes`, `max_depth`, `max_gates`) on the training mixture and on
the test env's generator alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from do1rl.core.circuit import Circuit, pad


@struct.dataclass
class Mixture:
    """Uniform over `generators`; every circuit padded to [num_nodes] x [fanin_slots].

    Attributes:
      generators: the component generators (pytrees with `max_depth`,
        `max_gates` and `__call__(key) -> Circuit`).
      num_nodes, fanin_slots: the padded shape, at least each component's.
      max_depth, max_gates: the declared bounds the env scales features and
        horizons by, at least each component's.
      eval_width: the solver's chunk width, the widest of the components'.
      layers: the components' layout (`Circuit.layers`) if they all share
        one, else None.
      weights: float32[len(generators)] relative draw weights (>= 0, not all
        0), or None for uniform.
    """

    generators: tuple
    num_nodes: int = struct.field(pytree_node=False)
    fanin_slots: int = struct.field(pytree_node=False)
    max_depth: int = struct.field(pytree_node=False)
    max_gates: int = struct.field(pytree_node=False)
    eval_width: int = struct.field(pytree_node=False)
    layers: tuple[tuple[int, int], ...] | None = struct.field(pytree_node=False, default=None)
    weights: jax.Array | None = None

    @classmethod
    def of(
        cls,
        generators: Sequence,
        *,
        num_nodes: int | None = None,
        fanin_slots: int | None = None,
        max_depth: int | None = None,
        max_gates: int | None = None,
    ) -> Mixture:
        """A mixture padded to the given sizes (default: the largest component's); ValueError if too small."""
        if not generators:
            raise ValueError("a mixture needs at least one generator")
        sizes = [cls.sizes_of(g) for g in generators]
        need = {name: max(s[name] for s in sizes) for name in sizes[0]}
        given = {"num_nodes": num_nodes, "fanin_slots": fanin_slots, "max_depth": max_depth, "max_gates": max_gates}
        chosen: dict[str, Any] = {}
        for name, least in need.items():
            wanted = given[name]
            value = least if wanted is None else int(wanted)
            if value < least:
                raise ValueError(f"mixture {name} must be >= {least} (its largest component's), got {value}")
            chosen[name] = value
        shapes = [jax.eval_shape(g, jax.random.key(0)) for g in generators]
        layouts = {s.layers for s in shapes}
        layers = layouts.pop() if len(layouts) == 1 else None
        return cls(tuple(generators), eval_width=max(s.eval_width for s in shapes), layers=layers, **chosen)

    @staticmethod
    def sizes_of(generator) -> dict:
        """The declared sizes (`num_nodes`, `fanin_slots`, `max_depth`, `max_gates`) of one generator's circuits."""
        shape = jax.eval_shape(generator, jax.random.key(0))
        return {
            "num_nodes": int(shape.node_type.shape[-1]),
            "fanin_slots": int(shape.fanin.shape[-1]),
            "max_depth": int(generator.max_depth),
            "max_gates": int(generator.max_gates),
        }

    @property
    def component_depths(self) -> tuple[int, ...]:
        """Each component's `max_depth` (its circuit depth for a fixed-depth generator)."""
        return tuple(int(g.max_depth) for g in self.generators)

    def __call__(self, key: jax.Array) -> Circuit:
        pick_key, key = jax.random.split(key)
        if self.weights is None:
            index = jax.random.randint(pick_key, (), 0, len(self.generators))
        else:
            index = jax.random.categorical(pick_key, jnp.log(jnp.asarray(self.weights, jnp.float32)))

        def branch(generator):
            def draw(k):
                circuit = pad(generator(k), self.num_nodes, self.fanin_slots)
                return circuit.replace(eval_width=self.eval_width, layers=self.layers)

            return draw

        return jax.lax.switch(index, [branch(g) for g in self.generators], key)
