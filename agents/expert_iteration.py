"""Expert iteration (AlphaZero / Gumbel MuZero style), end to end in JAX, with PPO's public surface.

    ei = ExpertIteration(env, env_params, network, ExpertIterationConfig(total_timesteps=100_000))
    state, totals = jax.jit(ei.train)(jax.random.key(0))                  # one seed
    state, totals = jax.jit(ei.train_seeds)(jax.random.split(key, 4))     # four seeds at once

Each iteration plays `num_steps` steps in `num_envs` envs, acting with a
Gumbel MuZero search on the true env model whose prior is the student network;
the student is then fitted to the search's `action_weights` (cross-entropy)
and to the episodes' Monte-Carlo returns (squared error). Targets, losses and
the comparison with pgx's AlphaZero example: docs/design/expert-iteration.md.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import mctx
import optax

from do1rl.agents import networks
from do1rl.agents.learner import RolloutSizes, ScanLearner, adam, check_node_values, finished_episodes
from do1rl.agents.losses import AUX_TARGETS, hint_loss
from do1rl.agents.masking import entropy, log_probs
from do1rl.agents.mcts import LEAF_VALUES, MCTSConfig, MCTSPolicy
from do1rl.agents.ppo import TrainState
from do1rl.core import limits
from do1rl.core.checks import OneOf, Range, check_fields
from do1rl.envs.types import Observation
from do1rl.envs.wrappers import AutoReset

__all__ = [
    "Batch",
    "ExpertIteration",
    "ExpertIterationConfig",
    "Totals",
    "TrainState",
    "cross_entropy",
    "monte_carlo_returns",
    "search_kl",
    "summarize",
]


@dataclasses.dataclass(frozen=True)
class ExpertIterationConfig(RolloutSizes):
    """Expert-iteration hyperparameters (defaults suit small circuits on CPU)."""

    total_timesteps: int = 100_000  # env steps per seed
    num_envs: int = 32  # parallel envs per seed
    num_steps: int = 16  # rollout length per env and iteration
    update_epochs: int = 4  # passes over each rollout (pgx's example: 1; the targets stay fixed, so several are safe)
    num_minibatches: int = 4
    learning_rate: float = 1e-3
    anneal_lr: bool = False
    max_grad_norm: float = 1.0
    vf_coef: float = 1.0
    scale_rewards: bool = True  # value targets in units of env.max_depth, as PPO's critic
    # The acting search (Gumbel MuZero on the true env model, the student as prior):
    simulations: int = 16
    gumbel_scale: float = 1.0  # root Gumbel noise while training (mctx's default)
    max_considered: int | None = None  # root actions sequential halving starts from; None = all
    leaf_value: str = "max"  # MCTSConfig.leaf_value: "max", "finish" or "prior"
    # Auxiliary node-value loss, as PPO's (training-only labels from the env state; the student never sees them):
    aux_coef: float = 0.0  # its weight; 0 = off
    aux_target: str = "hint"  # "final": the last iteration predicts every node; "hint": iteration t, the nodes of depth <= t

    RULES: ClassVar[dict] = {
        **dict.fromkeys(("total_timesteps", "num_envs", "num_steps", "update_epochs", "num_minibatches"), Range(1, integer=True)),
        **dict.fromkeys(("learning_rate", "max_grad_norm"), Range(0, low_open=True)),
        **dict.fromkeys(("vf_coef", "aux_coef"), Range(0)),  # a negative weight would ascend its loss
        "aux_target": OneOf(AUX_TARGETS),
        "simulations": Range(1, limits.MAX_SIMULATIONS, integer=True),
        "gumbel_scale": Range(0),
        "leaf_value": OneOf(LEAF_VALUES),
    }
    NOTES: ClassVar[tuple[str, ...]] = (
        "num_envs * num_steps must be divisible by num_minibatches",
        "total_timesteps must hold at least one rollout (num_envs * num_steps)",
        f"max_considered: null (every action) or an integer in 1..{limits.MAX_SIMULATIONS}",
    )

    def __post_init__(self):
        check_fields(self, self.RULES)
        if self.max_considered is not None and not Range(1, limits.MAX_SIMULATIONS, integer=True).holds(self.max_considered):
            raise ValueError(
                f"max_considered must be null or an integer in 1..{limits.MAX_SIMULATIONS}, got {limits.show(self.max_considered)}"
            )
        self.check_sizes()

    def search_config(self, gumbel_scale: float | None = None, simulations: int | None = None) -> MCTSConfig:
        """The acting search's `MCTSConfig` (Gumbel MuZero)."""
        return MCTSConfig(
            simulations=self.simulations if simulations is None else simulations,
            algorithm="gumbel",
            max_considered=self.max_considered,
            gumbel_scale=self.gumbel_scale if gumbel_scale is None else gumbel_scale,
            leaf_value=self.leaf_value,
        )


class Totals(NamedTuple):
    """Metrics summed over iterations (losses) or finished episodes (returns).

    Divide loss sums by `updates` and episode sums by `episodes`
    (`summarize` does that).
    """

    updates: jax.Array
    policy_loss: jax.Array  # cross-entropy of the student to the search's action_weights
    value_loss: jax.Array  # 0.5 * squared error to the Monte-Carlo return, over transitions that have one
    entropy: jax.Array
    kl_to_search: jax.Array  # KL(action_weights || student) on the rollout, before the update
    grad_norm: jax.Array
    learning_rate: jax.Array
    value_targets: jax.Array  # fraction of transitions whose episode ended in the rollout (have a value target)
    episodes: jax.Array
    returns: jax.Array
    ratio: jax.Array
    regret: jax.Array
    optimal: jax.Array
    nonfinite: jax.Array  # iterations whose loss was NaN or inf
    aux_loss: jax.Array  # the auxiliary node-value loss (0 when off)

    @classmethod
    def zeros(cls) -> Totals:
        return cls(*(jnp.zeros((), jnp.float32) for _ in cls._fields))


PER_UPDATE = ("policy_loss", "value_loss", "entropy", "kl_to_search", "grad_norm", "learning_rate", "value_targets", "aux_loss")


def summarize(totals: Totals) -> dict[str, float]:
    """Means from (possibly seed-batched) `Totals`, pooled over seeds."""
    t = jax.tree.map(lambda x: float(jnp.sum(x)), totals)
    per_update = max(t.updates, 1.0)
    out = {name: getattr(t, name) / per_update for name in PER_UPDATE}
    out["episodes"] = t.episodes
    for name in ("returns", "ratio", "regret", "optimal"):
        out[f"mean_{name.rstrip('s')}"] = getattr(t, name) / t.episodes if t.episodes else float("nan")
    out["nonfinite"] = t.nonfinite
    return out


class Batch(NamedTuple):
    """One rollout's training data (leaves [num_steps, num_envs, ...] or flattened [batch_size, ...])."""

    obs: Observation
    action: jax.Array  # int32: the search's action, the one taken
    action_weights: jax.Array  # float32[A]: the search's improved policy (the policy target)
    value_target: jax.Array  # float32: the episode's return from here, scaled by reward_scale
    value_mask: jax.Array  # float32: 1 where the episode ended inside the rollout (the target is known)
    labels: jax.Array  # bool[N]: node values from the env state (only the auxiliary loss reads them)


def search_kl(logits: jax.Array, mask: jax.Array, weights: jax.Array) -> jax.Array:
    """KL(weights || masked softmax(logits)) per row, 0 log 0 = 0."""
    logp = log_probs(logits, mask)
    logw = jnp.log(jnp.where(weights > 0, weights, 1.0))
    return jnp.sum(jnp.where(weights > 0, weights * (logw - logp), 0.0), axis=-1)


def cross_entropy(logits: jax.Array, mask: jax.Array, weights: jax.Array) -> jax.Array:
    """-sum_a weights[a] log p(a) per row, p the masked softmax of `logits`."""
    return -jnp.sum(jnp.where(mask.astype(bool), weights * log_probs(logits, mask), 0.0), axis=-1)


def monte_carlo_returns(rewards: jax.Array, terminated: jax.Array, done: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(returns, known) over a rollout, inputs [T, ...]: the undiscounted return to the episode's end.

    `known` is False where the episode did not terminate inside the rollout
    (cut by its end, or truncated); those returns are partial.
    """

    def back(carry, x):
        g, known = carry
        r, term, d = x
        g = r + jnp.where(d, 0.0, g)
        known = jnp.where(d, term, known)
        return (g, known), (g, known)

    init = (jnp.zeros_like(rewards[0]), jnp.zeros(rewards.shape[1:], bool))
    _, (g, known) = jax.lax.scan(back, init, (rewards, terminated, done), reverse=True)
    return g, known


class ExpertIteration(ScanLearner):
    """Expert iteration on a functional do1rl environment with a `do1rl.agents.networks` network.

    Value target: the episode's Monte-Carlo return (undiscounted, scaled by
    `reward_scale`), only for transitions whose episode terminates inside the
    rollout. Policy target: the acting search's `action_weights`.

    Args:
      env: a functional env (`DO1`, `AlternatingCircuit`), not auto-reset.
      env_params: its EnvParams (which instances the envs draw).
      network: a flax module `apply(params, obs) -> (logits[A], value[])`
        for one observation.
      config: ExpertIterationConfig.
      partial_reset: reset only the envs whose episode ended (as PPO's).
        With `config.aux_coef > 0` the network must be built with
        `node_values=True` (the auxiliary loss reads its decoded node values).
      curriculum: not supported yet; None or a disabled one.
    """

    totals_type = Totals  # summed over iterations (`ScanLearner.run`)

    def __init__(self, env, env_params, network, config: ExpertIterationConfig, partial_reset: bool = False, curriculum=None):
        if curriculum is not None and getattr(curriculum, "enabled", True):
            raise ValueError("expert iteration has no depth curriculum yet: leave curriculum empty")
        self.env = AutoReset(env, partial=partial_reset)
        self.env_params = env_params
        self.curriculum = None
        self.network = network
        self.config = config
        self.reward_scale = 1.0 / max(int(env.max_depth), 1) if config.scale_rewards else 1.0
        self.recurrent = hasattr(network, "static_iterations")
        self.node_values = check_node_values(network, config.aux_coef)
        self.learning_rate, self.optimizer = adam(config)

    # ----- helpers --------------------------------------------------------------
    def apply(self, params, obs: Observation) -> tuple[jax.Array, jax.Array]:
        """(logits [B, A], values [B]) for a batch of observations (values in units of `reward_scale`)."""
        return networks.apply_batch(self.network, params, obs)

    def observe(self, env_state) -> Observation:
        return jax.vmap(self.env.get_obs)(env_state)

    def level_params(self, level: jax.Array | int):
        """`env_params` (no curriculum levels)."""
        del level
        return self.env_params

    @property
    def final_params(self):
        """The env params evaluations play: `env_params`."""
        return self.env_params

    def search_policy(self, params, gumbel_scale: float | None = None, simulations: int | None = None) -> MCTSPolicy:
        """The acting search with the student `params` as prior; also an evaluator policy (`gumbel_scale=0` to evaluate)."""
        net = self.network
        return MCTSPolicy(
            self.env.env,
            self.env_params,
            self.config.search_config(gumbel_scale, simulations),
            prior_fn=lambda obs: net.apply(params, obs),
            prior_value_scale=1.0 / self.reward_scale,
        )

    def search(self, params, key: jax.Array, env_state) -> mctx.PolicyOutput:
        """The acting search from a batch of states (mctx's `PolicyOutput`)."""
        return self.search_policy(params).search(key, env_state)

    def init(self, key: jax.Array) -> TrainState:
        """Fresh network, optimizer and envs for one seed."""
        key, net_key, env_key = jax.random.split(key, 3)
        env_keys = jax.random.split(env_key, self.config.num_envs)
        obs, env_state = jax.vmap(self.env.reset, in_axes=(0, None))(env_keys, self.env_params)
        params = self.network.init(net_key, jax.tree.map(lambda x: x[0], obs))
        return TrainState(
            params=params,
            opt_state=self.optimizer.init(params),
            env_state=env_state,
            episode_return=jnp.zeros((self.config.num_envs,), jnp.float32),
            key=key,
            update=jnp.int32(0),
        )

    # ----- one iteration -----------------------------------------------------
    def rollout(self, state: TrainState) -> tuple[TrainState, Batch, Totals]:
        """`num_steps` searched steps in every env: (state, Batch [T, E, ...], episode and KL totals).

        Step t splits the carried key into (key, search_key, step_key); the
        search runs on `search_key`, the envs step on `split(step_key, E)`.
        """
        cfg = self.config
        params = state.params

        def step(carry, _):
            env_state, ep_return, key, totals = carry
            before = env_state
            key, search_key, step_key = jax.random.split(key, 3)
            obs = self.observe(env_state)
            logits, _ = self.apply(params, obs)
            out = self.search(params, search_key, env_state)
            kl = search_kl(logits, obs.action_mask, out.action_weights)
            action = out.action.astype(jnp.int32)
            step_keys = jax.random.split(step_key, cfg.num_envs)
            _, env_state, reward, terminated, truncated, info = self.env.step_batch(step_keys, env_state, action, self.env_params)
            done = terminated | truncated
            ep_return = ep_return + reward
            optimal = info["optimal_return"].astype(jnp.float32)
            totals = finished_episodes(totals, done, ep_return, optimal)
            totals = totals._replace(kl_to_search=totals.kl_to_search + kl.mean() / cfg.num_steps)
            ep_return = jnp.where(done, 0.0, ep_return)
            labels = before.value.astype(bool)
            return (env_state, ep_return, key, totals), (obs, action, out.action_weights, reward, terminated, done, labels)

        (env_state, ep_return, key, totals), (obs, action, weights, reward, terminated, done, labels) = jax.lax.scan(
            step, (state.env_state, state.episode_return, state.key, Totals.zeros()), None, cfg.num_steps
        )
        returns, known = monte_carlo_returns(reward * self.reward_scale, terminated, done)
        batch = Batch(obs, action, weights, returns, known.astype(jnp.float32), labels)
        totals = totals._replace(value_targets=batch.value_mask.mean())
        return state.replace(env_state=env_state, episode_return=ep_return, key=key), batch, totals

    def _loss(self, params, batch: Batch):
        cfg = self.config
        if self.node_values:
            logits, value, rows = networks.apply_batch(self.network, params, batch.obs, method="with_node_values")
        else:
            logits, value = self.apply(params, batch.obs)
        mask = batch.obs.action_mask
        policy_loss = cross_entropy(logits, mask, batch.action_weights).mean()
        errors = 0.5 * jnp.square(value - batch.value_target) * batch.value_mask
        value_loss = errors.sum() / jnp.maximum(batch.value_mask.sum(), 1.0)
        loss = policy_loss + cfg.vf_coef * value_loss
        aux_loss = jnp.float32(0.0)
        if self.node_values:
            t = networks.rule_iterations(self.network, batch.obs) if self.recurrent else None
            aux_loss = hint_loss(rows, batch.labels, batch.obs, t, cfg.aux_target)
            loss = loss + cfg.aux_coef * aux_loss
        metrics = {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy(logits, mask).mean()}
        return loss, metrics | {"aux_loss": aux_loss}

    def distil(self, state: TrainState, batch: Batch) -> tuple[TrainState, dict]:
        """Fits the student to a rollout's targets: `update_epochs` epochs of minibatch steps (means of the losses)."""
        cfg = self.config
        data = jax.tree.map(lambda x: x.reshape((cfg.batch_size,) + x.shape[2:]), batch)

        def epoch(carry, _):
            params, opt_state, key = carry
            key, perm_key = jax.random.split(key)
            perm = jax.random.permutation(perm_key, cfg.batch_size)
            shuffled = jax.tree.map(lambda x: x[perm].reshape((cfg.num_minibatches, cfg.minibatch_size) + x.shape[1:]), data)

            def minibatch(carry, mb):
                params, opt_state = carry
                (loss, aux), grads = jax.value_and_grad(self._loss, has_aux=True)(params, mb)
                updates, opt_state = self.optimizer.update(grads, opt_state, params)
                params = optax.apply_updates(params, updates)
                return (params, opt_state), dict(aux, loss=loss, grad_norm=optax.tree.norm(grads))

            (params, opt_state), aux = jax.lax.scan(minibatch, (params, opt_state), shuffled)
            return (params, opt_state, key), aux

        (params, opt_state, key), aux = jax.lax.scan(epoch, (state.params, state.opt_state, state.key), None, cfg.update_epochs)
        nonfinite = jnp.any(~jnp.isfinite(aux["loss"])).astype(jnp.float32)
        aux = dict(jax.tree.map(jnp.mean, aux), nonfinite=nonfinite)
        return state.replace(params=params, opt_state=opt_state, key=key), aux

    def update(self, state: TrainState) -> tuple[TrainState, Totals]:
        """One iteration: a searched rollout, then the student distils it."""
        cfg = self.config
        state, batch, totals = self.rollout(state)
        gradient_steps = state.update * cfg.update_epochs * cfg.num_minibatches
        state, aux = self.distil(state, batch)
        totals = totals._replace(
            updates=jnp.float32(1),
            policy_loss=aux["policy_loss"],
            value_loss=aux["value_loss"],
            entropy=aux["entropy"],
            grad_norm=aux["grad_norm"],
            learning_rate=jnp.asarray(self.learning_rate(gradient_steps), jnp.float32),
            nonfinite=aux["nonfinite"],
            aux_loss=aux["aux_loss"],
        )
        return state.replace(update=state.update + 1), totals
