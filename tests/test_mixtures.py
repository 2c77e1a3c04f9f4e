"""`Mixture`: one padded shape for circuits of several depths (depth generalisation)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from do1rl.core.circuit import pad
from do1rl.core.generators import RandomAlternating
from do1rl.core.mixtures import Mixture
from do1rl.core.solver import solve

pytestmark = pytest.mark.slow  # the slow lane (docs/testing.md)

PARTS = [RandomAlternating(n_inputs=3, depth=d, width=3) for d in (2, 3, 4)]


def test_each_draw_is_a_padded_component_draw_with_the_same_solution():
    mixture = Mixture.of(PARTS, num_nodes=40, max_depth=8)
    keys = jax.random.split(jax.random.key(0), 24)
    drawn = jax.jit(jax.vmap(mixture))(keys)
    solved = jax.jit(jax.vmap(solve))(drawn)
    depths = set()
    for i, key in enumerate(keys):
        pick_key, gen_key = jax.random.split(key)
        part = PARTS[int(jax.random.randint(pick_key, (), 0, len(PARTS)))]
        own = part(gen_key)
        want = pad(own, 40, mixture.fanin_slots)
        np.testing.assert_array_equal(drawn.node_type[i], want.node_type)
        np.testing.assert_array_equal(drawn.fanin[i], want.fanin)
        np.testing.assert_array_equal(drawn.depth[i], want.depth)
        assert int(solved.d1[i]) == int(solve(own).d1)
        depths.add(int(own.circuit_depth))
    assert depths == {2, 3, 4}
    assert (mixture.num_nodes, mixture.max_depth) == (40, 8)


def test_declared_sizes_must_cover_every_component():
    with pytest.raises(ValueError, match="num_nodes must be >= "):
        Mixture.of(PARTS, num_nodes=5)
    with pytest.raises(ValueError, match="at least one generator"):
        Mixture.of([])
