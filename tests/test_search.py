"""do1rl.agents.search gives mctx's trees bitwise (Gumbel MuZero and MuZero, with and without max_depth)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from walks import random_walk_states

from do1rl.agents.mcts import MCTSConfig, make_mcts_policy, search_node
from do1rl.core.generators import RandomAlternating
from do1rl.envs import DO1

pytestmark = pytest.mark.slow  # the slow lane (docs/testing.md)

FAST_COMPILE = {"xla_backend_optimization_level": 0}
TREE_FIELDS = (
    "node_visits",
    "raw_values",
    "node_values",
    "parents",
    "action_from_parent",
    "children_index",
    "children_prior_logits",
    "children_values",
    "children_visits",
    "children_rewards",
    "children_discounts",
)


def illegal_loving_prior(obs):
    return jnp.where(obs.action_mask, 0.0, 3.0) + 0.1 * obs.depth.sum(), jnp.float32(1.5)


CASES = {
    "gumbel": (MCTSConfig(simulations=20), None),
    "gumbel-depth2-considered4": (MCTSConfig(simulations=20, max_depth=2, max_considered=4, q_floor=False), None),
    "muzero-noise": (
        MCTSConfig(simulations=20, algorithm="muzero", dirichlet_fraction=0.25, temperature=1.0),
        illegal_loving_prior,
    ),
    "muzero-depth3": (MCTSConfig(simulations=20, algorithm="muzero", max_depth=3, leaf_value="prior"), illegal_loving_prior),
}


@pytest.fixture(scope="module", params=list(CASES))
def both_trees(request):
    config, prior = CASES[request.param]
    env = DO1(RandomAlternating(n_inputs=3, depth=3, width=3), stop_action=True)
    params = env.default_params
    policy = make_mcts_policy(env, params, config, prior_fn=prior)

    @functools.partial(jax.jit, compiler_options=FAST_COMPILE)
    def run(keys, key):
        states = random_walk_states(env, params, keys)
        return states, policy.search(key, states), policy.search_mctx(key, states)

    return (config, *run(jax.random.split(jax.random.key(3), 24), jax.random.key(4)))


def assert_bitwise(a, b, name):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, name
    np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8), err_msg=name)


def test_tree_matches_mctx_bitwise(both_trees):
    _, states, new, old = both_trees
    assert_bitwise(new.action, old.action, "action")
    assert_bitwise(new.action_weights, old.action_weights, "action_weights")
    for field in TREE_FIELDS:
        assert_bitwise(getattr(new.search_tree, field), getattr(old.search_tree, field), field)
    for field, a, b in zip(search_node(states)._fields, new.search_tree.embeddings, search_node(old.search_tree.embeddings)):
        assert_bitwise(a, b, f"embeddings.{field}")
    assert_bitwise(new.search_tree.root_invalid_actions, old.search_tree.root_invalid_actions, "root_invalid_actions")
    # Not vacuous: the trees grow below the root, some lanes are terminated, some before the choice.
    assert int((np.asarray(new.search_tree.parents) > 0).sum()) > 0
    assert np.asarray(states.terminated).any() and (np.asarray(states.chosen) == -1).any()


def test_max_depth_caps_the_tree(both_trees):
    config, _, new, _ = both_trees
    parents = np.asarray(new.search_tree.parents)
    depth = np.zeros(parents.shape, int)
    rows = np.arange(parents.shape[0])
    for i in range(1, parents.shape[1]):  # a node's parent has a smaller index
        depth[:, i] = np.where(parents[:, i] >= 0, depth[rows, np.maximum(parents[:, i], 0)] + 1, 0)
    if config.max_depth is None:
        assert depth.max() > 3  # deeper than the capped cases reach
    else:
        assert depth.max() == config.max_depth
