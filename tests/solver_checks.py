"""Test helper: a solver's answer for circuits built from lists, against the plain-Python reference."""

from __future__ import annotations

from collections import Counter

from do1rl.core.reference import certificate_depths, evaluate


def assert_matches_reference(sol, lists, node_indices, eval_width: int) -> None:
    """Every row of a batched `Solution` (numpy) equals `reference` on its lists, padding at 0.

    Serial steps: per layer, its gates in chunks of `eval_width`.
    """
    for row, (c, node_index) in enumerate(zip(lists, node_indices)):
        value, depth, d1 = evaluate(*c)
        cert, cert_d1 = certificate_depths(*c)
        assert sol.value[row][node_index].tolist() == value, c
        assert sol.depth[row][node_index].tolist() == depth, c
        assert int(sol.d1[row]) == d1, c
        assert sol.cert[row][node_index].tolist() == cert, c
        assert int(sol.cert_d1[row]) == cert_d1, c
        assert not sol.value[row][len(node_index) :].any()  # padding stays 0
        layer_sizes = Counter(depth[len(c[0]) :]).values()
        assert int(sol.serial_steps[row]) == sum(-(-size // eval_width) for size in layer_sizes), c
