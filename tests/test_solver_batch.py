"""The batch paths of the solver (layer-major and generic) against today's chunk loop and the reference."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solver_checks import assert_matches_reference
from strategies import layered_circuits, layered_lists, random_lists, small_circuits

from do1rl.core.biregular import LayeredBiregular
from do1rl.core.circuit import from_lists, layers_hold, pad, stack
from do1rl.core.generators import RandomAlternating
from do1rl.core.mixtures import Mixture
from do1rl.core.reference import circuit_to_lists
from do1rl.core.solver import solve, solve_batch, solve_chunked

NODES, FANIN, BATCH = 32, 4, 16  # every list-built batch has this one shape
WIDTHS = (1, 3, 40)  # 40 > NODES: the generic path's window covers the whole circuit
# One layout for every layered test circuit: runs of equal abutting layers and single layers.
INPUTS, LAYER_SIZES = 3, (3, 3, 1, 1, 1, 4, 4, 2)
LAYOUT = tuple((INPUTS + sum(LAYER_SIZES[:d]), INPUTS + sum(LAYER_SIZES[: d + 1])) for d in range(len(LAYER_SIZES)))


@pytest.fixture(scope="session")
def paths():
    """Today's path (vmapped chunk loop) and the two entries that dispatch on the layout."""
    return {
        "chunked": jax.jit(jax.vmap(solve_chunked)),
        "solve_batch": jax.jit(solve_batch),
        "vmap_solve": jax.jit(jax.vmap(solve)),
    }


def assert_paths_equal(paths, circuits):
    """Every path's `Solution` is bitwise the chunk loop's; returns it (numpy)."""
    want = jax.device_get(paths["chunked"](circuits))
    for name in ("solve_batch", "vmap_solve"):
        chex.assert_trees_all_equal(jax.device_get(paths[name](circuits)), want, custom_message=name)
    return want


def build(lists, eval_width, layers=None):
    built = [from_lists(*c, num_nodes=NODES, max_fanin=FANIN, eval_width=eval_width) for c in lists]
    return stack([c.replace(layers=layers) for c, _ in built]), [node_index for _, node_index in built]


@settings(deadline=None, max_examples=20)
@given(first=small_circuits(), seed=st.integers(0, 2**32 - 1), eval_width=st.sampled_from(WIDTHS))
def test_generic_path(paths, first, seed, eval_width):
    rng = np.random.default_rng(seed)
    lists = [first] + [random_lists(rng, NODES, FANIN) for _ in range(BATCH - 1)]
    circuits, node_indices = build(lists, eval_width)
    assert circuits.layers is None
    assert_matches_reference(assert_paths_equal(paths, circuits), lists, node_indices, eval_width)


@pytest.mark.slow
@settings(deadline=None, max_examples=20)
@given(
    first=layered_circuits(INPUTS, LAYER_SIZES, FANIN),
    seed=st.integers(0, 2**32 - 1),
    eval_width=st.sampled_from(WIDTHS),
)
def test_layer_major_path(paths, first, seed, eval_width):
    rng = np.random.default_rng(seed)
    pick = lambda low, high: int(rng.integers(low, high + 1))
    lists = [first] + [layered_lists(pick, INPUTS, LAYER_SIZES, FANIN) for _ in range(BATCH - 1)]
    circuits, node_indices = build(lists, eval_width, LAYOUT)
    assert bool(layers_hold(circuits).all())
    sol = assert_paths_equal(paths, circuits)
    chex.assert_trees_all_equal(jax.device_get(paths["solve_batch"](circuits.replace(layers=None))), sol)
    assert_matches_reference(sol, lists, node_indices, eval_width)


GENERATORS = [
    RandomAlternating(n_inputs=4, depth=6, width=4, prefix_chain=5, skip_prob=0.5),
    LayeredBiregular(width=4, depth=6, k=3, stratify_d1=False),
]


@pytest.mark.parametrize("gen", GENERATORS, ids=lambda g: f"{type(g).__name__}-d{g.depth}")
def test_generator_layouts(paths, gen):
    circuits = jax.device_get(jax.jit(jax.vmap(gen))(jax.random.split(jax.random.key(3), BATCH)))
    assert circuits.layers == gen.layers
    assert bool(layers_hold(circuits).all())
    sol = assert_paths_equal(paths, circuits)
    chex.assert_trees_all_equal(jax.device_get(paths["solve_batch"](circuits.replace(layers=None))), sol)
    rows = range(4)
    lists = [circuit_to_lists(circuits.node_type[i], circuits.fanin[i]) for i in rows]
    slots = [np.array(list(new_id)) for *_, new_id in lists]  # file id -> slot, in file-id order
    assert_matches_reference(jax.tree.map(lambda x: x[: len(rows)], sol), [c[:3] for c in lists], slots, circuits.eval_width)


def test_layers_hold_spots_a_wrong_layout():
    circuits, _ = build([layered_lists(lambda low, high: low, INPUTS, LAYER_SIZES, FANIN)], 3, LAYOUT)
    assert bool(layers_hold(circuits).all())
    assert layers_hold(circuits.replace(layers=None)).all()  # nothing to check
    overlapping = ((LAYOUT[0][0], LAYOUT[0][1] + 1),) + LAYOUT[1:]
    moved = ((LAYOUT[0][0], LAYOUT[0][1] - 1), (LAYOUT[1][0] - 1, LAYOUT[1][1])) + LAYOUT[2:]
    for wrong in (overlapping, moved, LAYOUT[:-1], LAYOUT[::-1]):
        assert not bool(layers_hold(circuits.replace(layers=wrong)).any()), wrong


def test_layout_survives_pad_stack_and_shared_mixtures():
    key = jax.random.key(0)
    gen = RandomAlternating(n_inputs=3, depth=3, width=3)
    one = jax.jit(gen)(key)
    assert pad(one, 40, 5).layers == gen.layers
    other = pad(jax.jit(RandomAlternating(n_inputs=3, depth=3, width=2))(key), one.num_nodes, one.max_fanin)
    assert stack([one, one]).layers == gen.layers
    assert stack([one, other]).layers is None  # a batch keeps only a layout all share
    padded = Mixture.of([gen], num_nodes=40)
    assert padded.layers == jax.eval_shape(padded, key).layers == gen.layers
    mixed = Mixture.of([gen, RandomAlternating(n_inputs=3, depth=4, width=3)])
    assert mixed.layers is None
    assert jax.eval_shape(mixed, key).layers is None  # the switch's branches agree on it


def test_single_circuit_solve_with_layout():
    circuit = jax.jit(RandomAlternating(n_inputs=3, depth=4, width=3, prefix_chain=2))(jax.random.key(5))
    want = jax.device_get(jax.jit(solve_chunked)(circuit))
    chex.assert_trees_all_equal(jax.device_get(jax.jit(solve)(circuit)), want)
    with jax.disable_jit():
        chex.assert_trees_all_equal(jax.device_get(solve(circuit)), want)
    assert jnp.asarray(want.serial_steps).dtype == jnp.int32
