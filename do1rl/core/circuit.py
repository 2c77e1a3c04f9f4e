"""The one circuit representation used everywhere in do1rl.

A `Circuit` is a pytree of padded arrays. Nodes are stored in depth order:
circuit inputs first (depth 0), then gates by non-decreasing depth, then
padding. That order is what lets the solver evaluate layer by layer.
`from_lists` builds a circuit from plain node lists in any order.
Generators that place every layer at fixed slots also record that static
layout (`Circuit.layers`), which lets the solver slice whole layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

# Node types, as stored in `Circuit.node_type` and shown in observations.
PAD = 0
INPUT_0 = 1
INPUT_1 = 2
AND = 3
OR = 4

NODE_TYPE_NAMES = ("PAD", "INPUT_0", "INPUT_1", "AND", "OR")


@struct.dataclass
class Circuit:
    """A padded alternating circuit with its inputs' bits.

    Attributes:
      node_type: int8[N], one of PAD, INPUT_0, INPUT_1, AND, OR.
      fanin: int32[N, F], ids of the nodes each gate reads; -1 pads.
      depth: int32[N], longest path from an input (0 for inputs and padding).
      eval_width: static int, how many gate slots the solver evaluates per
        serial step. Any value >= 1 is correct; the widest layer is fastest.
      layers: static, optional layout: for each depth d = 1..D, the slots
        (start, stop) that hold exactly the gates of depth d, the same for
        every circuit of a batch (`layers_hold` checks it). Generators that
        know it fill it in; None when unknown (e.g. circuits from files).
    """

    node_type: jax.Array  # int8[N]
    fanin: jax.Array  # int32[N, F]
    depth: jax.Array  # int32[N]
    eval_width: int = struct.field(pytree_node=False, default=1)
    layers: tuple[tuple[int, int], ...] | None = struct.field(pytree_node=False, default=None)

    @property
    def num_nodes(self) -> int:
        """Static number of node slots N (inputs + gates + padding)."""
        return self.node_type.shape[-1]

    @property
    def max_fanin(self) -> int:
        """Static fan-in slots F per node."""
        return self.fanin.shape[-1]

    @property
    def fanin_mask(self) -> jax.Array:
        """bool[N, F]: which fan-in slots hold a real edge."""
        return self.fanin >= 0

    @property
    def is_gate(self) -> jax.Array:
        """bool[N]: AND or OR nodes."""
        return self.node_type >= AND

    @property
    def is_input(self) -> jax.Array:
        """bool[N]: circuit inputs."""
        return (self.node_type == INPUT_0) | (self.node_type == INPUT_1)

    @property
    def num_gates(self) -> jax.Array:
        return jnp.sum(self.is_gate, axis=-1)

    @property
    def num_inputs(self) -> jax.Array:
        return jnp.sum(self.is_input, axis=-1)

    @property
    def circuit_depth(self) -> jax.Array:
        """Depth of the deepest gate."""
        return jnp.max(self.depth, axis=-1)


def from_lists(
    inputs: Sequence[int],
    ops: Sequence[str],
    fanins: Sequence[Sequence[int]],
    *,
    num_nodes: int | None = None,
    max_fanin: int | None = None,
    eval_width: int | None = None,
) -> tuple[Circuit, np.ndarray]:
    """Builds a `Circuit` from node lists in the file format's numbering.

    Node ids `0..n-1` are the inputs, `n+i` is gate `i` (gates in any order).
    The structure must already be valid (see `circuit_file.validate`).

    Returns the circuit and `node_index`: int[n + m], the slot of each
    file node id in the circuit's arrays.
    """
    n, m = len(inputs), len(ops)
    depth = topological_depths(n, fanins)
    # Stable sort of gates by depth keeps file order within a layer.
    gate_order = np.argsort(depth[n:], kind="stable")
    node_index = np.empty(n + m, dtype=np.int64)
    node_index[:n] = np.arange(n)
    node_index[n + gate_order] = n + np.arange(m)

    width = max((len(f) for f in fanins), default=1)
    num_nodes = n + m if num_nodes is None else num_nodes
    max_fanin = width if max_fanin is None else max_fanin
    if num_nodes < n + m or max_fanin < width:
        raise ValueError(f"circuit needs {n + m} nodes and fan-in {width}, got padding to {num_nodes} nodes and fan-in {max_fanin}")
    node_type = np.zeros(num_nodes, np.int8)
    fanin = np.full((num_nodes, max_fanin), -1, np.int32)
    depths = np.zeros(num_nodes, np.int32)
    node_type[:n] = np.where(np.asarray(inputs, bool), INPUT_1, INPUT_0)
    for g in range(m):
        slot = node_index[n + g]
        node_type[slot] = AND if ops[g] == "AND" else OR
        fanin[slot, : len(fanins[g])] = node_index[np.asarray(fanins[g], np.int64)]
        depths[slot] = depth[n + g]
    if eval_width is None:
        eval_width = widest_layer(depth[n:]) if m else 1
    circuit = Circuit(
        node_type=jnp.asarray(node_type),
        fanin=jnp.asarray(fanin),
        depth=jnp.asarray(depths),
        eval_width=int(eval_width),
    )
    return circuit, node_index


def topological_depths(n_inputs: int, fanins: Sequence[Sequence[int]]) -> np.ndarray:
    """Depth of every node id (inputs 0), by Kahn's algorithm on the host.

    Raises ValueError naming a gate on a cycle if the graph is not acyclic.
    """
    m = len(fanins)
    total = n_inputs + m
    readers: list[list[int]] = [[] for _ in range(total)]
    pending = np.zeros(total, np.int64)
    for g, fin in enumerate(fanins):
        for src in set(fin):
            readers[src].append(n_inputs + g)
        pending[n_inputs + g] = len(set(fin))
    depth = np.zeros(total, np.int64)
    ready = list(range(n_inputs)) + [n_inputs + g for g in range(m) if not fanins[g]]
    done = 0
    while ready:
        node = ready.pop()
        done += 1
        for reader in readers[node]:
            depth[reader] = max(depth[reader], depth[node] + 1)
            pending[reader] -= 1
            if pending[reader] == 0:
                ready.append(reader)
    if done < total:
        on_cycle = int(np.flatnonzero(pending[n_inputs:] > 0)[0])
        raise ValueError(f"gate {on_cycle} is on a cycle")
    return depth


def widest_layer(gate_depths: np.ndarray) -> int:
    """Number of gates in the most populated layer."""
    return int(np.bincount(np.asarray(gate_depths, np.int64)).max())


def layers_hold(circuit: Circuit) -> jax.Array:
    """bool[...]: per circuit, whether its gates are exactly the slots of `layers`, each at its layer's depth.

    True where a circuit has no layout; False everywhere for ranges that
    are empty, overlap, go backwards or leave the node slots.
    """
    if circuit.layers is None:
        return jnp.ones(circuit.node_type.shape[:-1], bool)
    bounds = [b for layer in circuit.layers for b in layer]
    ordered = bounds == sorted(bounds) and all(start < stop for start, stop in circuit.layers)
    if not ordered or bounds[0] < 0 or bounds[-1] > circuit.num_nodes:
        return jnp.zeros(circuit.node_type.shape[:-1], bool)
    in_layer = np.zeros(circuit.num_nodes, bool)
    layer_depth = np.zeros(circuit.num_nodes, np.int32)
    for d, (start, stop) in enumerate(circuit.layers, 1):
        in_layer[start:stop] = True
        layer_depth[start:stop] = d
    gates_placed = circuit.is_gate == in_layer
    depths_placed = jnp.where(in_layer, circuit.depth, 0) == layer_depth
    return jnp.all(gates_placed & depths_placed, axis=-1)


def pad(circuit: Circuit, num_nodes: int, max_fanin: int) -> Circuit:
    """Pads one circuit with PAD nodes / -1 fan-in slots to [num_nodes] x [max_fanin].

    Padding goes at the end, which keeps the node order (inputs, gates by
    depth, padding) the solver relies on.
    """
    n, f = circuit.num_nodes, circuit.max_fanin
    if num_nodes < n or max_fanin < f:
        raise ValueError(f"cannot pad a circuit of {n} nodes and fan-in {f} to {num_nodes} nodes and fan-in {max_fanin}")
    return Circuit(
        node_type=jnp.pad(jnp.asarray(circuit.node_type, jnp.int8), (0, num_nodes - n)),
        fanin=jnp.pad(jnp.asarray(circuit.fanin, jnp.int32), ((0, num_nodes - n), (0, max_fanin - f)), constant_values=-1),
        depth=jnp.pad(jnp.asarray(circuit.depth, jnp.int32), (0, num_nodes - n)),
        eval_width=circuit.eval_width,
        layers=circuit.layers,
    )


def stack(circuits: Sequence[Circuit]) -> Circuit:
    """Stacks equally padded circuits into one batched `Circuit`.

    Stacks on the host, so no XLA op is compiled per batch size. The batch
    keeps a layout only if every circuit has the same one.
    """
    width = max(c.eval_width for c in circuits)
    layouts = {c.layers for c in circuits}
    layers = layouts.pop() if len(layouts) == 1 else None
    same = [c.replace(eval_width=width, layers=layers) for c in circuits]  # type: ignore[attr-defined]  # flax.struct adds replace
    return jax.tree.map(lambda *xs: jnp.asarray(np.stack([np.asarray(x) for x in xs])), *same)


def unstack(batch: Circuit) -> list[Circuit]:
    """Inverse of `stack`."""
    size = batch.node_type.shape[0]
    return [jax.tree.map(lambda x, i=i: x[i], batch) for i in range(size)]
