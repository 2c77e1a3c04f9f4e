"""Twins: two circuits that no L-block message-passing net can tell apart.

`colours` is colour refinement (1-WL) on a circuit with fan-in and fan-out
edges kept apart, started from (node type, depth): what an L-block net of
`agents/networks.py` can see of a node is a function of its L-round colour.
`twins(circuit, L)` swaps edges a -> u and b -> w whose ends share their
(L-1)-round colours (a with b, u with w); every swap keeps every node's
L-round colour, and swaps are stacked until d1 changes.
See docs/hard-instances.md.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from do1rl.core.circuit import AND, OR, Circuit
from do1rl.core.reference import circuit_to_lists, evaluate

__all__ = ["colours", "twins"]


def colours(node_type, fanin, depth, rounds: int) -> np.ndarray:
    """int[N]: every node's colour after `rounds` rounds of refinement (padding kept apart)."""
    node_type, fanin, depth = np.asarray(node_type), np.asarray(fanin), np.asarray(depth)
    n = node_type.shape[0]
    readers: list[list[int]] = [[] for _ in range(n)]
    for node in range(n):
        for src in fanin[node]:
            if src >= 0:
                readers[int(src)].append(node)
    colour = _relabel([(int(t), int(d)) for t, d in zip(node_type, depth)])
    for _ in range(rounds):
        signature = [
            (
                int(colour[x]),
                tuple(sorted(int(colour[s]) for s in fanin[x] if s >= 0)),
                tuple(sorted(int(colour[r]) for r in readers[x])),
            )
            for x in range(n)
        ]
        colour = _relabel(signature)
    return colour


def _relabel(signatures: list) -> np.ndarray:
    table: dict = {}
    return np.array([table.setdefault(s, len(table)) for s in signatures], np.int64)


def _d1(node_type, fanin) -> int:
    return evaluate(*circuit_to_lists(node_type, fanin)[:3])[2]


def twins(circuit: Circuit, rounds: int, *, seed: int = 0, max_swaps: int = 200) -> Circuit | None:
    """A circuit with the same nodes and `rounds`-round colours as `circuit` but another d1, or None.

    Up to `max_swaps` random colour-preserving edge swaps are stacked, and
    the first circuit whose d1 differs is returned (None if none does).
    `rounds` >= 1 is the number of message-passing blocks L to fool.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    node_type = np.asarray(circuit.node_type)
    fanin = np.array(circuit.fanin)
    depth = np.asarray(circuit.depth)
    if node_type.ndim != 1:
        raise ValueError(f"twins needs one circuit, got a batch of shape {node_type.shape}")
    colour = colours(node_type, fanin, depth, rounds - 1)
    is_gate = (node_type == AND) | (node_type == OR)
    # Edges (reader u, slot s) of gates; a swap needs two with equal (colour[u], colour[fanin[u, s]]).
    edges = [(int(u), s) for u in np.flatnonzero(is_gate) for s in range(fanin.shape[1]) if fanin[u, s] >= 0]
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for u, s in edges:
        groups.setdefault((int(colour[u]), int(colour[fanin[u, s]])), []).append((u, s))
    swappable = [g for g in groups.values() if len(g) >= 2]
    if not swappable:
        return None
    rng = np.random.default_rng(seed)
    d1 = _d1(node_type, fanin)
    for _ in range(max_swaps):
        group = swappable[rng.integers(len(swappable))]
        i, j = rng.choice(len(group), 2, replace=False)
        (u, s), (w, t) = group[i], group[j]
        a, b = fanin[u, s], fanin[w, t]
        if a == b or u == w:
            continue
        fanin[u, s], fanin[w, t] = b, a
        if _d1(node_type, fanin) != d1:
            return circuit.replace(fanin=jnp.asarray(fanin, jnp.int32))  # type: ignore[attr-defined]  # flax.struct adds replace
    return None
