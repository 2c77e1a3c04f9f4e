"""Plain-Python reference evaluation, independent of the JAX solver.

It works on the file format's node numbering (inputs, then gates in any
order) and uses only the standard library, so tests and benchmarks can check
the solver against it.
"""

from __future__ import annotations

from collections.abc import Sequence


def evaluate(inputs: Sequence[int], ops: Sequence[str], fanins: Sequence[Sequence[int]]):
    """Returns (values, depths, d1) for every node id, visiting gates in topological order.

    Raises ValueError if the gates form a cycle.
    """
    n = len(inputs)
    total = n + len(ops)
    readers: list[list[int]] = [[] for _ in range(total)]
    waiting = [0] * total
    for g, srcs in enumerate(fanins):
        for s in srcs:
            readers[s].append(n + g)
        waiting[n + g] = len(srcs)
    value: list[bool] = [bool(b) for b in inputs] + [False] * len(ops)
    depth: list[int] = [0] * total
    order = list(range(n))
    head = 0
    while head < len(order):
        node = order[head]
        head += 1
        if node >= n:
            srcs = fanins[node - n]
            vals = [value[s] for s in srcs]
            value[node] = all(vals) if ops[node - n] == "AND" else any(vals)
            depth[node] = 1 + max(depth[s] for s in srcs)
        for reader in readers[node]:
            waiting[reader] -= 1
            if waiting[reader] == 0:
                order.append(reader)
    if len(order) < total:
        raise ValueError("cycle")
    d1 = max((depth[n + g] for g in range(len(ops)) if value[n + g]), default=0)
    return value, depth, d1


def circuit_to_lists(node_type, fanin):
    """Padded arrays -> (inputs, ops, fanins, slot -> file id), padding dropped.

    Kept apart from `circuit_file.to_lists` on purpose: tests check the
    library against this module, so it shares no code with it.
    """
    ids = [i for i, t in enumerate(node_type) if t != 0]
    inputs_ids = [i for i in ids if node_type[i] in (1, 2)]
    gate_ids = [i for i in ids if node_type[i] >= 3]
    new_id = {old: k for k, old in enumerate(inputs_ids + gate_ids)}
    inputs = [1 if node_type[i] == 2 else 0 for i in inputs_ids]
    ops = ["AND" if node_type[i] == 3 else "OR" for i in gate_ids]
    fanins = [[new_id[int(s)] for s in fanin[i] if s >= 0] for i in gate_ids]
    return inputs, ops, fanins, new_id

