"""Batched MCTS on mctx's public pieces, linear in the number of simulations.

The design, the `mctx.Tree` it fills and the action-selection rules and
qtransforms it calls are mctx's (DeepMind, Apache 2.0:
https://github.com/google-deepmind/mctx); `search`, `gumbel_muzero_policy`
and `muzero_policy` return the same trees, bitwise, as `mctx.search`,
`mctx.gumbel_muzero_policy` and `mctx.muzero_policy` (tests/test_search.py).
What differs is how the loops are batched (docs/design/mcts.md):

- the backup runs one loop for the whole batch (`while any lane is below the
  root`) with masked scatter writes, rather than a `while_loop` under `vmap`,
  whose per-lane condition makes every step select over the whole tree;
- the root step is taken before the selection loop, so the loop runs only
  the interior rule (mctx's `lax.cond` between the two becomes a select
  under `vmap`, which runs both rules at every step).

Callers keep embeddings small: what does not change during a search belongs
in `params`, which `recurrent_fn` receives unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import mctx

__all__ = ["gumbel_muzero_policy", "muzero_policy", "search"]

_ROOT = mctx.Tree.ROOT_INDEX
_UNVISITED = mctx.Tree.UNVISITED
_NO_PARENT = mctx.Tree.NO_PARENT


def search(
    params: Any,
    rng_key: jax.Array,
    *,
    root: mctx.RootFnOutput,
    recurrent_fn: mctx.RecurrentFn,
    root_action_selection_fn: Callable,
    interior_action_selection_fn: Callable,
    num_simulations: int,
    max_depth: int | None = None,
    invalid_actions: jax.Array | None = None,
    extra_data: Any = None,
) -> mctx.Tree:
    """The search tree of `mctx.search` with the same arguments (no `loop_fn`)."""
    batch_size = root.value.shape[0]
    batch_range = jnp.arange(batch_size)
    if max_depth is None:
        max_depth = num_simulations
    if invalid_actions is None:
        invalid_actions = jnp.zeros_like(root.prior_logits)
    simulate = functools.partial(_simulate, root_fn=root_action_selection_fn, interior_fn=interior_action_selection_fn, max_depth=max_depth)

    def body(sim, loop_state):
        rng_key, tree = loop_state
        rng_key, simulate_key, expand_key = jax.random.split(rng_key, 3)
        parent_index, action = simulate(jax.random.split(simulate_key, batch_size), tree)
        # A node first expanded on simulation i has index i + 1 (the root is 0).
        next_node_index = tree.children_index[batch_range, parent_index, action]
        next_node_index = jnp.where(next_node_index == _UNVISITED, sim + 1, next_node_index)
        tree = _expand(params, expand_key, tree, recurrent_fn, parent_index, action, next_node_index)
        return rng_key, _backward(tree, next_node_index)

    tree = _instantiate_tree(root, num_simulations, invalid_actions, extra_data)
    _, tree = jax.lax.fori_loop(0, num_simulations, body, (rng_key, tree))
    return tree


def _simulate(rng_keys, tree, *, root_fn, interior_fn, max_depth):
    """(parent_index [B], action [B]): each lane's walk down to an unexpanded edge or `max_depth`."""

    def one(rng_key, tree):
        # The root step, taken once before the loop (mctx's walk at depth 0).
        rng_key, select_key = jax.random.split(rng_key)
        node_index = jnp.asarray(_ROOT, jnp.int32)
        action = root_fn(select_key, tree, node_index)
        depth = jnp.ones((), tree.children_prior_logits.dtype)
        next_node_index = tree.children_index[node_index, action]
        continuing = (next_node_index != _UNVISITED) & (depth < max_depth)

        def cond(state):
            return state[-1]

        def step(state):
            rng_key, _, _, node_index, depth, _ = state
            rng_key, select_key = jax.random.split(rng_key)
            action = interior_fn(select_key, tree, node_index, depth)
            next_node_index = tree.children_index[node_index, action]
            depth = depth + 1
            continuing = (next_node_index != _UNVISITED) & (depth < max_depth)
            return rng_key, node_index, action, next_node_index, depth, continuing

        state = (rng_key, node_index, action, next_node_index, depth, continuing)
        _, node_index, action, _, _, _ = jax.lax.while_loop(cond, step, state)
        return node_index, action

    return jax.vmap(one)(rng_keys, tree)


def _set(x: jax.Array, value: jax.Array, *index: jax.Array) -> jax.Array:
    """x[b, *index[b]] = value[b] for every lane b (mctx's `batch_update`); out-of-range rows are dropped."""
    return x.at[(jnp.arange(x.shape[0]), *index)].set(value, mode="drop")


def _expand(params, rng_key, tree, recurrent_fn, parent_index, action, next_node_index):
    """Evaluates the edges (parent_index, action) and writes their child nodes (mctx's `expand`)."""
    batch_range = jnp.arange(parent_index.shape[0])
    embedding = jax.tree.map(lambda x: x[batch_range, parent_index], tree.embeddings)
    step, embedding = recurrent_fn(params, rng_key, action, embedding)
    tree = _update_node(tree, next_node_index, step.prior_logits, step.value, embedding)
    return tree.replace(
        children_index=_set(tree.children_index, next_node_index, parent_index, action),
        children_rewards=_set(tree.children_rewards, step.reward, parent_index, action),
        children_discounts=_set(tree.children_discounts, step.discount, parent_index, action),
        parents=_set(tree.parents, parent_index, next_node_index),
        action_from_parent=_set(tree.action_from_parent, action, next_node_index),
    )


def _update_node(tree, node_index, prior_logits, value, embedding):
    """mctx's `update_tree_node`: a (re-)expanded node gets its prior, value, embedding and one more visit."""
    new_visit = tree.node_visits[jnp.arange(node_index.shape[0]), node_index] + 1
    return tree.replace(
        children_prior_logits=_set(tree.children_prior_logits, prior_logits, node_index),
        raw_values=_set(tree.raw_values, value, node_index),
        node_values=_set(tree.node_values, value, node_index),
        node_visits=_set(tree.node_visits, new_visit, node_index),
        embeddings=jax.tree.map(lambda t, s: _set(t, s, node_index), tree.embeddings, embedding),
    )


def _backward(tree: mctx.Tree, leaf_index: jax.Array) -> mctx.Tree:
    """mctx's `backward` for the whole batch: one loop until every lane reaches the root.

    A lane that has reached the root writes nothing (its scatter row is out
    of range and dropped), so each lane sees exactly mctx's per-lane updates.
    """
    batch_range = jnp.arange(leaf_index.shape[0])
    num_nodes = tree.node_values.shape[1]

    def cond(state):
        return jnp.any(state[2] != _ROOT)

    def body(state):
        tree, leaf_value, index = state
        active = index != _ROOT
        parent = tree.parents[batch_range, index]
        count = tree.node_visits[batch_range, parent]
        action = tree.action_from_parent[batch_range, index]
        reward = tree.children_rewards[batch_range, parent, action]
        new_leaf_value = reward + tree.children_discounts[batch_range, parent, action] * leaf_value
        parent_value = (tree.node_values[batch_range, parent] * count + new_leaf_value) / (count + 1.0)
        children_values = tree.node_values[batch_range, index]
        children_counts = tree.children_visits[batch_range, parent, action] + 1
        row = jnp.where(active, parent, num_nodes)  # out of range: dropped
        tree = tree.replace(
            node_values=_set(tree.node_values, parent_value, row),
            node_visits=_set(tree.node_visits, count + 1, row),
            children_values=_set(tree.children_values, children_values, row, action),
            children_visits=_set(tree.children_visits, children_counts, row, action),
        )
        leaf_value = jnp.where(active, new_leaf_value, leaf_value)
        return tree, leaf_value, jnp.where(active, parent, _ROOT)

    leaf_index = jnp.asarray(leaf_index, jnp.int32)
    state = (tree, tree.node_values[batch_range, leaf_index], leaf_index)
    tree, _, _ = jax.lax.while_loop(cond, body, state)
    return tree


def _instantiate_tree(root: mctx.RootFnOutput, num_simulations: int, invalid_actions, extra_data) -> mctx.Tree:
    """An empty tree of `num_simulations + 1` nodes with the root filled in (mctx's layout)."""
    batch_size, num_actions = root.prior_logits.shape
    dtype = root.value.dtype
    node = (batch_size, num_simulations + 1)
    edge = (*node, num_actions)
    tree = mctx.Tree(
        node_visits=jnp.zeros(node, jnp.int32),
        raw_values=jnp.zeros(node, dtype),
        node_values=jnp.zeros(node, dtype),
        parents=jnp.full(node, _NO_PARENT, jnp.int32),
        action_from_parent=jnp.full(node, _NO_PARENT, jnp.int32),
        children_index=jnp.full(edge, _UNVISITED, jnp.int32),
        children_prior_logits=jnp.zeros(edge, root.prior_logits.dtype),
        children_values=jnp.zeros(edge, dtype),
        children_visits=jnp.zeros(edge, jnp.int32),
        children_rewards=jnp.zeros(edge, dtype),
        children_discounts=jnp.zeros(edge, dtype),
        embeddings=jax.tree.map(lambda x: jnp.zeros((*node, *x.shape[1:]), x.dtype), root.embedding),
        root_invalid_actions=invalid_actions,
        extra_data=extra_data,
    )
    root_index = jnp.full((batch_size,), _ROOT, jnp.int32)
    return _update_node(tree, root_index, root.prior_logits, root.value, root.embedding)


# ----- policies (mctx's policies.py with `search` above) ---------------------------------
def gumbel_muzero_policy(
    params: Any,
    rng_key: jax.Array,
    root: mctx.RootFnOutput,
    recurrent_fn: mctx.RecurrentFn,
    num_simulations: int,
    invalid_actions: jax.Array | None = None,
    max_depth: int | None = None,
    *,
    qtransform: Callable = mctx.qtransform_completed_by_mix_value,
    max_num_considered_actions: int = 16,
    gumbel_scale: float = 1.0,
) -> mctx.PolicyOutput:
    """`mctx.gumbel_muzero_policy` (same arguments but `loop_fn`, same output) on `search`."""
    root = root.replace(prior_logits=_mask_invalid_actions(root.prior_logits, invalid_actions))
    rng_key, gumbel_rng = jax.random.split(rng_key)
    gumbel = gumbel_scale * jax.random.gumbel(gumbel_rng, shape=root.prior_logits.shape, dtype=root.prior_logits.dtype)
    tree = search(
        params,
        rng_key,
        root=root,
        recurrent_fn=recurrent_fn,
        root_action_selection_fn=functools.partial(
            mctx.gumbel_muzero_root_action_selection,
            num_simulations=num_simulations,
            max_num_considered_actions=max_num_considered_actions,
            qtransform=qtransform,
        ),
        interior_action_selection_fn=functools.partial(mctx.gumbel_muzero_interior_action_selection, qtransform=qtransform),
        num_simulations=num_simulations,
        max_depth=max_depth,
        invalid_actions=invalid_actions,
        extra_data=mctx.GumbelMuZeroExtraData(root_gumbel=gumbel),
    )
    summary = tree.summary()
    # Act with the best of the most visited actions (highest gumbel + logits + q).
    considered_visit = jnp.max(summary.visit_counts, axis=-1, keepdims=True)
    completed_qvalues = jax.vmap(qtransform, in_axes=[0, None])(tree, tree.ROOT_INDEX)
    logits = root.prior_logits - jnp.max(root.prior_logits, keepdims=True, axis=-1)
    penalty = jnp.where(summary.visit_counts == considered_visit, 0, -jnp.inf)
    to_argmax = jnp.maximum(-1e9, gumbel + logits + completed_qvalues) + penalty
    action = _masked_argmax(to_argmax, invalid_actions)
    search_logits = _mask_invalid_actions(root.prior_logits + completed_qvalues, invalid_actions)
    return mctx.PolicyOutput(action=action, action_weights=jax.nn.softmax(search_logits), search_tree=tree)


def muzero_policy(
    params: Any,
    rng_key: jax.Array,
    root: mctx.RootFnOutput,
    recurrent_fn: mctx.RecurrentFn,
    num_simulations: int,
    invalid_actions: jax.Array | None = None,
    max_depth: int | None = None,
    *,
    qtransform: Callable = mctx.qtransform_by_parent_and_siblings,
    dirichlet_fraction: float = 0.25,
    dirichlet_alpha: float = 0.3,
    pb_c_init: float = 1.25,
    pb_c_base: float = 19652,
    temperature: float = 1.0,
) -> mctx.PolicyOutput:
    """`mctx.muzero_policy` (same arguments but `loop_fn`, same output) on `search`."""
    rng_key, dirichlet_rng_key, search_rng_key = jax.random.split(rng_key, 3)
    probs = jax.nn.softmax(root.prior_logits)
    batch_size, num_actions = probs.shape
    noise = jax.random.dirichlet(dirichlet_rng_key, alpha=jnp.full([num_actions], fill_value=dirichlet_alpha), shape=(batch_size,))
    noisy_probs = (1 - dirichlet_fraction) * probs + dirichlet_fraction * noise
    root = root.replace(prior_logits=_mask_invalid_actions(_logits_from_probs(noisy_probs), invalid_actions))
    interior = functools.partial(mctx.muzero_action_selection, pb_c_base=pb_c_base, pb_c_init=pb_c_init, qtransform=qtransform)
    tree = search(
        params,
        search_rng_key,
        root=root,
        recurrent_fn=recurrent_fn,
        root_action_selection_fn=functools.partial(interior, depth=0),
        interior_action_selection_fn=interior,
        num_simulations=num_simulations,
        max_depth=max_depth,
        invalid_actions=invalid_actions,
    )
    action_weights = tree.summary().visit_probs
    # Act proportionally to visit_counts ** (1 / temperature); temperature 0 = argmax.
    logits = _logits_from_probs(action_weights)
    logits = logits - jnp.max(logits, keepdims=True, axis=-1)
    logits = logits / jnp.maximum(jnp.finfo(logits.dtype).tiny, temperature)
    action = jax.random.categorical(rng_key, logits)
    return mctx.PolicyOutput(action=action, action_weights=action_weights, search_tree=tree)


def _mask_invalid_actions(logits: jax.Array, invalid_actions: jax.Array | None) -> jax.Array:
    """Logits shifted to max 0 with invalid actions at the float minimum (finite: no NaN softmax)."""
    if invalid_actions is None:
        return logits
    logits = logits - jnp.max(logits, axis=-1, keepdims=True)
    return jnp.where(invalid_actions, jnp.finfo(logits.dtype).min, logits)


def _logits_from_probs(probs: jax.Array) -> jax.Array:
    return jnp.log(jnp.maximum(probs, jnp.finfo(probs.dtype).tiny))


def _masked_argmax(to_argmax: jax.Array, invalid_actions: jax.Array | None) -> jax.Array:
    if invalid_actions is not None:
        to_argmax = jnp.where(invalid_actions, -jnp.inf, to_argmax)
    return jnp.argmax(to_argmax, axis=-1).astype(jnp.int32)
