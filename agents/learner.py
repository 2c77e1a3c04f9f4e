"""What every learner derives from its `init` and `update`: many iterations, seeds, and its greedy or sampled policy."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from do1rl.agents.masking import masked_logits
from do1rl.core.solver import approximation_ratio


class RolloutSizes:
    """The sizes every learner's settings derive from `total_timesteps`, `num_envs`, `num_steps`, `num_minibatches`."""

    total_timesteps: int
    num_envs: int
    num_steps: int
    num_minibatches: int

    def check_sizes(self) -> None:
        """ValueError (one line) unless a rollout splits into minibatches and the budget holds one rollout."""
        if self.batch_size % self.num_minibatches:
            raise ValueError(f"num_envs * num_steps ({self.batch_size}) must be divisible by num_minibatches ({self.num_minibatches})")
        if self.total_timesteps < self.batch_size:
            raise ValueError(
                f"total_timesteps ({self.total_timesteps}) is less than one rollout (num_envs * num_steps = {self.batch_size})"
            )

    @property
    def batch_size(self) -> int:
        """Transitions per iteration: num_envs * num_steps."""
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        """Iterations: total_timesteps // batch_size."""
        return self.total_timesteps // self.batch_size


def adam(config: Any) -> tuple[optax.Schedule, optax.GradientTransformation]:
    """(learning-rate schedule, optimizer) of a learner's settings: Adam (eps 1e-5) after global-norm clipping,
    the rate constant or annealed linearly to 0 over every gradient step (`anneal_lr`)."""
    steps = config.num_updates * config.update_epochs * config.num_minibatches
    if config.anneal_lr:
        schedule = optax.linear_schedule(config.learning_rate, 0.0, steps)
    else:
        schedule = optax.constant_schedule(config.learning_rate)
    return schedule, optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(schedule, eps=1e-5))


def check_node_values(network: Any, aux_coef: float) -> bool:
    """Whether the auxiliary node-value loss is on; ValueError if it is and `network` has no node-value head."""
    if aux_coef > 0 and not getattr(network, "node_values", False):
        raise ValueError("aux_coef > 0 needs a network built with node_values=True (make_network(..., node_values=True))")
    return aux_coef > 0


def finished_episodes(totals: Any, done: jax.Array, ep_return: jax.Array, optimal: jax.Array) -> Any:
    """`totals` plus the episodes that ended this step: count, return, ratio, regret and optimum sums."""
    f = done.astype(jnp.float32)
    return totals._replace(
        episodes=totals.episodes + f.sum(),
        returns=totals.returns + (f * ep_return).sum(),
        ratio=totals.ratio + (f * approximation_ratio(ep_return, optimal)).sum(),
        regret=totals.regret + (f * (optimal - ep_return)).sum(),
        optimal=totals.optimal + (f * optimal).sum(),
    )


class ScanLearner:
    """A base for learners with `init(key) -> state`, `update(state) -> (state, totals)`, `network` and `config`.

    `totals_type`: the learner's totals (a NamedTuple with `zeros()`), summed over iterations.
    """

    totals_type: Any
    network: Any
    config: Any

    def init(self, key: jax.Array) -> Any:
        raise NotImplementedError

    def update(self, state: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def run(self, state: Any, num_updates: int) -> tuple[Any, Any]:
        """`num_updates` iterations in one `lax.scan`, metrics summed in the carry."""

        def body(carry, _):
            state, totals = carry
            state, new = self.update(state)
            return (state, jax.tree.map(jnp.add, totals, new)), None

        (state, totals), _ = jax.lax.scan(body, (state, self.totals_type.zeros()), None, num_updates)
        return state, totals

    def train(self, key: jax.Array) -> tuple[Any, Any]:
        """A whole run for one seed: `init` then `config.num_updates` iterations."""
        return self.run(self.init(key), self.config.num_updates)

    def init_seeds(self, keys: jax.Array) -> Any:
        """`init` for a batch of seeds (leading axis), one seed after another."""
        return jax.lax.map(self.init, keys)

    def train_seeds(self, keys: jax.Array) -> tuple[Any, Any]:
        """Whole runs for a batch of seeds: their iterations run vmapped."""
        states = self.init_seeds(keys)
        return jax.vmap(self.run, in_axes=(0, None))(states, self.config.num_updates)

    def policy(self, params, greedy: bool = True):
        """The network alone as an evaluator policy `policy(key, obs, state) -> action`: argmax or a sample."""

        def act(key, obs, state):
            del state
            logits, _ = self.network.apply(params, obs)
            logits = masked_logits(logits, obs.action_mask)
            if greedy:
                return jnp.argmax(logits).astype(jnp.int32)
            return jax.random.categorical(key, logits).astype(jnp.int32)

        return act
