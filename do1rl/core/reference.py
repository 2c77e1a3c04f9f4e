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


def certificate_depths(inputs, ops, fanins):
    """Returns (cert per node id, cert(d1)) by the definitions, in plain Python.

    A gate at its controlling value (AND at 0, OR at 1) needs 1 + the
    smallest certificate among its children at that value, otherwise
    1 + the largest among all its children; inputs need 0. cert(d1) is the
    larger of the cheapest certificate of a 1-gate at depth d1 and the
    certificates of every deeper gate (all 0).
    """
    value, depth, d1 = evaluate(inputs, ops, fanins)
    n = len(inputs)
    cert: list[int | None] = [0] * n + [None] * len(ops)

    def gate_cert(node: int) -> int:
        stack = [node]
        while stack:
            top = stack[-1]
            pending = [s for s in fanins[top - n] if cert[s] is None]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            if cert[top] is not None:
                continue
            srcs = fanins[top - n]
            controlling = ops[top - n] == ("OR" if value[top] else "AND")
            if controlling:
                cert[top] = 1 + min(cert[s] for s in srcs if value[s] == value[top])
            else:
                cert[top] = 1 + max(cert[s] for s in srcs)
        found = cert[node]
        assert found is not None  # the loop above set it
        return found

    gates = range(n, n + len(ops))
    certs = [gate_cert(g) for g in gates]
    top = min((c for g, c in zip(gates, certs) if value[g] and depth[g] == d1), default=0) if d1 else 0
    deeper = max((c for g, c in zip(gates, certs) if depth[g] > d1), default=0)
    return [0] * n + certs, max(top, deeper)


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
