"""PPO with action masking, end to end in JAX (purejaxrl style).

    ppo = PPO(env, env_params, network, PPOConfig(total_timesteps=200_000))
    state, totals = jax.jit(ppo.train)(jax.random.key(0))                   # one seed
    state, totals = jax.jit(ppo.train_seeds)(jax.random.split(key, 4))      # four seeds at once

Implementation details, CleanRL style: docs/design/ppo.md. (One file on
purpose, past 450 lines: the algorithm reads top to bottom, as in purejaxrl.)
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from do1rl.agents import curriculum as curriculum_lib
from do1rl.agents import networks
from do1rl.agents.curriculum import CurriculumConfig, CurriculumState
from do1rl.agents.learner import RolloutSizes, ScanLearner, adam, check_node_values, finished_episodes
from do1rl.agents.losses import AUX_TARGETS, hint_loss, node_value_loss
from do1rl.agents.masking import entropy, log_probs, masked_logits
from do1rl.core.checks import OneOf, Range, check_fields
from do1rl.core.solver import approximation_ratio
from do1rl.envs.types import Observation
from do1rl.envs.wrappers import AutoReset


@dataclasses.dataclass(frozen=True)
class PPOConfig(RolloutSizes):
    """PPO hyperparameters (defaults suit small circuits on CPU)."""

    total_timesteps: int = 500_000  # env steps per seed
    num_envs: int = 64  # parallel envs per seed
    num_steps: int = 32  # rollout length per env and update
    update_epochs: int = 4
    num_minibatches: int = 4
    learning_rate: float = 3e-4
    anneal_lr: bool = True
    gamma: float = 1.0  # the game is finite-horizon and undiscounted
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    clip_value: bool = True
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    max_grad_norm: float = 0.5
    normalize_advantages: bool = True
    scale_rewards: bool = True
    # Auxiliary node-value loss (training-only labels from the env state; the policy never sees them):
    aux_coef: float = 0.0  # its weight; 0 = off
    aux_target: str = "hint"  # "final": the last iteration predicts every node; "hint": iteration t, the nodes of depth <= t
    progressive_alpha: float = 0.0  # recurrent nets: weight of the progressive (Deep Thinking) term of the aux loss
    random_iterations: bool = False  # recurrent nets: T ~ U{T(obs) .. T_max} per training decision

    RULES: ClassVar[dict] = {
        **dict.fromkeys(("total_timesteps", "num_envs", "num_steps", "update_epochs", "num_minibatches"), Range(1)),
        **dict.fromkeys(("learning_rate", "clip_eps", "max_grad_norm"), Range(0, low_open=True)),
        **dict.fromkeys(("gamma", "gae_lambda", "progressive_alpha"), Range(0, 1)),
        **dict.fromkeys(("vf_coef", "ent_coef", "aux_coef"), Range(0)),  # a negative weight would ascend its loss
        "aux_target": OneOf(AUX_TARGETS),
    }
    NOTES: ClassVar[tuple[str, ...]] = (
        "num_envs * num_steps must be divisible by num_minibatches",
        "total_timesteps must hold at least one rollout (num_envs * num_steps)",
        "progressive_alpha > 0 needs aux_coef > 0",
    )

    def __post_init__(self):
        check_fields(self, self.RULES)
        self.check_sizes()
        if self.progressive_alpha > 0 and self.aux_coef == 0:
            raise ValueError("progressive_alpha weights a term of the auxiliary loss: set aux_coef > 0 too")


class TrainState(struct.PyTreeNode):
    """Everything a run needs to continue exactly (one seed).

    Attributes:
      params: network parameters.
      opt_state: optimizer state (Adam moments, step count).
      env_state: EnvState batched over [num_envs]; observations are
        recomputed from it, so they are not stored.
      episode_return: float32[num_envs], return so far of each running episode.
      key: the run's PRNG key.
      update: int32[], PPO iterations done.
      curriculum: the depth curriculum's `CurriculumState`, or None without one.
      spare_params: with curriculum restarts, the initial parameters of each
        restart (leading axis `max_restarts`), else None.
    """

    params: Any
    opt_state: Any
    env_state: Any
    episode_return: jax.Array
    key: jax.Array
    update: jax.Array
    curriculum: Any = None
    spare_params: Any = None


class Totals(NamedTuple):
    """Metrics summed over iterations (losses) or finished episodes (returns).

    Divide loss sums by `updates` and episode sums by `episodes`
    (`summarize` does that).
    """

    updates: jax.Array
    policy_loss: jax.Array
    value_loss: jax.Array
    entropy: jax.Array
    approx_kl: jax.Array
    clip_fraction: jax.Array
    explained_variance: jax.Array
    grad_norm: jax.Array
    learning_rate: jax.Array
    episodes: jax.Array
    returns: jax.Array
    ratio: jax.Array
    regret: jax.Array
    optimal: jax.Array
    nonfinite: jax.Array  # iterations whose loss was NaN or inf
    aux_loss: jax.Array  # the auxiliary node-value loss (0 when off)
    curriculum: jax.Array  # iterations run with a depth curriculum
    level: jax.Array  # the curriculum level of each iteration (0 without one)
    greedy_ratio: jax.Array  # with a curriculum: ratios of the greedy action on the rollouts' episodes
    greedy_episodes: jax.Array  # ... and how many episodes it scored

    @classmethod
    def zeros(cls) -> Totals:
        return cls(*(jnp.zeros((), jnp.float32) for _ in cls._fields))


def summarize(totals: Totals) -> dict[str, float]:
    """Means from (possibly seed-batched) `Totals`, pooled over seeds."""
    t = jax.tree.map(lambda x: float(jnp.sum(x)), totals)
    per_update = max(t.updates, 1.0)
    per_episode = max(t.episodes, 1.0)
    out = {
        name: getattr(t, name) / per_update
        for name in (
            "policy_loss",
            "value_loss",
            "entropy",
            "approx_kl",
            "clip_fraction",
            "explained_variance",
            "grad_norm",
            "learning_rate",
            "aux_loss",
        )
    }
    out["curriculum_level"] = t.level / t.curriculum if t.curriculum else float("nan")
    out["greedy_ratio"] = t.greedy_ratio / t.greedy_episodes if t.greedy_episodes else float("nan")
    out["episodes"] = t.episodes
    for name in ("returns", "ratio", "regret", "optimal"):
        out[f"mean_{name.rstrip('s')}"] = getattr(t, name) / per_episode if t.episodes else float("nan")
    out["nonfinite"] = t.nonfinite
    return out


class Transition(NamedTuple):
    """One rollout step of all envs (leaves [num_envs, ...])."""

    obs: Observation
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    terminated: jax.Array
    done: jax.Array
    bootstrap: jax.Array  # V(final obs) where truncated, else 0
    labels: jax.Array  # bool[N]: node values from the env state (only the auxiliary loss reads them)
    iterations: jax.Array  # int32: a recurrent net's T for this decision (random_iterations), else 0


def gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    done: jax.Array,
    gamma: float,
    lam: float,
) -> tuple[jax.Array, jax.Array]:
    """(advantages, returns) by GAE(lambda); all inputs [T, ...].

    `next_values[t]` is V of the state after step t within the same episode:
    the next rollout state if the episode goes on, V(final observation) if it
    was truncated (ignored if it terminated). `terminated` stops the
    bootstrap; `done` (terminated or truncated) stops the lambda-recursion.
    """
    deltas = rewards + gamma * next_values * (1.0 - terminated) - values

    def back(carry, x):
        delta, d = x
        adv = delta + gamma * lam * (1.0 - d) * carry
        return adv, adv

    _, adv = jax.lax.scan(back, jnp.zeros_like(values[0]), (deltas, done.astype(jnp.float32)), reverse=True)
    return adv, adv + values


class PPO(ScanLearner):
    """PPO on a functional do1rl environment with a `do1rl.agents.networks` network.

    Args:
      env: a functional env (`DO1`, `AlternatingCircuit`), not auto-reset.
      env_params: its EnvParams (which instances the envs draw).
      network: a flax module `apply(params, obs) -> (logits[A], value[])`
        for one observation.
      config: PPOConfig.
      partial_reset: reset only the envs whose episode ended (`AutoReset.step_batch`;
        bitwise the same rollouts); False = a reset for every env on every step.
      curriculum: a depth curriculum (`CurriculumConfig`) over the depths of
        `env_params.generator` (a `Mixture`); None or no levels = none.
    """

    totals_type = Totals  # summed over iterations (`ScanLearner.run`)

    def __init__(
        self,
        env,
        env_params,
        network,
        config: PPOConfig,
        partial_reset: bool = False,
        curriculum: CurriculumConfig | None = None,
    ):
        self.env = AutoReset(env, partial=partial_reset)
        self.env_params = env_params
        self.curriculum = curriculum if curriculum is not None and curriculum.enabled else None
        self.level_weights = None
        if self.curriculum is not None:
            depths = getattr(env_params.generator, "component_depths", None)
            if depths is None:
                raise ValueError("a depth curriculum needs a mixture of depths to draw from: give the env `depths`")
            if self.curriculum.gate == "greedy_ratio" and getattr(env, "max_selections", None) != 1:
                raise ValueError("the greedy_ratio gate scores one-decision episodes: use it with max_selections=1")
            self.level_weights = jnp.asarray(self.curriculum.level_weights(depths))
        self.network = network
        self.config = config
        self.reward_scale = 1.0 / max(int(env.max_depth), 1) if config.scale_rewards else 1.0
        self.can_truncate = bool(getattr(env, "can_truncate", True))
        self.learning_rate, self.optimizer = adam(config)
        self.recurrent = hasattr(network, "static_iterations")
        if (config.random_iterations or config.progressive_alpha > 0) and not self.recurrent:
            raise ValueError("random_iterations and progressive_alpha need a recurrent network (recurrent, bottleneck)")
        self.node_values = check_node_values(network, config.aux_coef)

    # ----- helpers --------------------------------------------------------------
    def apply(self, params, obs: Observation, iterations=None) -> tuple[jax.Array, jax.Array]:
        """(logits [B, A], values [B]) for a batch of observations (`iterations`: a recurrent net's T per observation)."""
        return networks.apply_batch(self.network, params, obs, iterations)

    def rule_iterations(self, obs: Observation) -> jax.Array:
        """int32[B]: a recurrent net's T(obs) per observation; 0 for the others."""
        if not self.recurrent:
            return jnp.zeros(obs.depth.shape[:-1], jnp.int32)
        return networks.rule_iterations(self.network, obs)

    def _training_iterations(self, key: jax.Array, obs: Observation):
        """(T per observation or None, stored T): T ~ U{T(obs) .. T_max} with `random_iterations`, else the rule."""
        rule = self.rule_iterations(obs)
        if not self.config.random_iterations:
            return None, rule
        t = jax.random.randint(key, rule.shape, rule, self.network.static_iterations + 1).astype(jnp.int32)
        return t, t

    def observe(self, env_state) -> Observation:
        return jax.vmap(self.env.get_obs)(env_state)

    def level_params(self, level: jax.Array | int):
        """The env params of a curriculum level (its depths drawn uniformly); `env_params` without a curriculum."""
        if self.level_weights is None:  # no curriculum
            return self.env_params
        generator = self.env_params.generator.replace(weights=self.level_weights[level])
        return self.env_params.replace(generator=generator)

    @property
    def final_params(self):
        """The env params of the last curriculum level (what training ends on); `env_params` without one."""
        return self.level_params(len(self.curriculum.levels) - 1) if self.curriculum is not None else self.env_params

    def _params(self, state: TrainState):
        return self.level_params(state.curriculum.level) if self.curriculum is not None else self.env_params

    def _fresh_params(self, key: jax.Array, obs: Observation):
        """New network parameters (initialised on the first of a batch of observations)."""
        method = "with_node_values" if self.node_values else None
        return self.network.init(key, jax.tree.map(lambda x: x[0], obs), method=method)

    def init(self, key: jax.Array) -> TrainState:
        """Fresh network, optimizer and envs for one seed."""
        key, net_key, env_key = jax.random.split(key, 3)
        env_keys = jax.random.split(env_key, self.config.num_envs)
        curriculum = CurriculumState.start() if self.curriculum is not None else None
        env_params = self.level_params(0)
        obs, env_state = jax.vmap(self.env.reset, in_axes=(0, None))(env_keys, env_params)
        params = self._fresh_params(net_key, obs)
        spares = None
        if self.curriculum is not None and self.curriculum.restart_after and self.curriculum.max_restarts:
            spare_keys = jax.random.split(jax.random.fold_in(net_key, 1), self.curriculum.max_restarts)
            spares = jax.lax.map(lambda k: self._fresh_params(k, obs), spare_keys)
        return TrainState(
            params=params,
            opt_state=self.optimizer.init(params),
            env_state=env_state,
            episode_return=jnp.zeros((self.config.num_envs,), jnp.float32),
            key=key,
            update=jnp.int32(0),
            curriculum=curriculum,
            spare_params=spares,
        )

    # ----- one iteration -----------------------------------------------------
    def _greedy_totals(self, totals: Totals, env_state, logits, mask, key, env_params) -> Totals:
        """`totals` plus the ratios the greedy action would score on these one-decision episodes."""
        greedy = jnp.argmax(masked_logits(logits, mask), axis=-1).astype(jnp.int32)
        keys = jax.random.split(key, greedy.shape[0])
        _, _, reward, terminated, _, info = jax.vmap(self.env.env.step, in_axes=(0, 0, 0, None))(keys, env_state, greedy, env_params)
        f = terminated.astype(jnp.float32)
        ratio = approximation_ratio(reward, info["optimal_return"].astype(jnp.float32))
        return totals._replace(
            greedy_ratio=totals.greedy_ratio + (f * ratio).sum(),
            greedy_episodes=totals.greedy_episodes + f.sum(),
        )

    def _rollout(self, state: TrainState) -> tuple[TrainState, Transition, jax.Array, Totals]:
        cfg = self.config
        env_params = self._params(state)

        def step(carry, _):
            env_state, ep_return, key, totals = carry
            before = env_state
            key, act_key, step_key = jax.random.split(key, 3)
            obs = self.observe(env_state)
            if cfg.random_iterations:
                key, t_key = jax.random.split(key)
                forced, stored = self._training_iterations(t_key, obs)
            else:
                forced, stored = None, self.rule_iterations(obs)
            logits, value = self.apply(state.params, obs, forced)
            if self.curriculum is not None and self.env.max_selections == 1:
                key, greedy_key = jax.random.split(key)
                totals = self._greedy_totals(totals, env_state, logits, obs.action_mask, greedy_key, env_params)
            logits = masked_logits(logits, obs.action_mask)
            action = jax.random.categorical(act_key, logits).astype(jnp.int32)
            logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], axis=-1)[:, 0]
            step_keys = jax.random.split(step_key, cfg.num_envs)
            _, env_state, reward, terminated, truncated, info = self.env.step_batch(step_keys, env_state, action, env_params)
            done = terminated | truncated
            if self.can_truncate:
                _, final_value = self.apply(state.params, info["final_obs"])
                bootstrap = jnp.where(truncated, final_value, 0.0)
            else:
                bootstrap = jnp.zeros_like(value)
            ep_return = ep_return + reward
            optimal = info["optimal_return"].astype(jnp.float32)
            totals = finished_episodes(totals, done, ep_return, optimal)
            ep_return = jnp.where(done, 0.0, ep_return)
            transition = Transition(
                obs=obs,
                action=action,
                log_prob=logp,
                value=value,
                reward=reward * self.reward_scale,
                terminated=terminated.astype(jnp.float32),
                done=done.astype(jnp.float32),
                bootstrap=bootstrap,
                labels=before.value.astype(bool),
                iterations=stored,
            )
            return (env_state, ep_return, key, totals), transition

        (env_state, ep_return, key, totals), traj = jax.lax.scan(
            step, (state.env_state, state.episode_return, state.key, Totals.zeros()), None, cfg.num_steps
        )
        _, last_value = self.apply(state.params, self.observe(env_state))
        state = state.replace(env_state=env_state, episode_return=ep_return, key=key)
        return state, traj, last_value, totals

    def _aux_loss(self, params, batch: Transition, rows: jax.Array, key: jax.Array | None) -> jax.Array:
        """The auxiliary node-value loss (with its progressive term for recurrent nets)."""
        cfg = self.config
        obs = batch.obs
        t = batch.iterations if self.recurrent else None
        loss = hint_loss(rows, batch.labels, obs, t, cfg.aux_target)
        if cfg.progressive_alpha > 0:
            # Deep Thinking's progressive loss: n iterations without gradient, then k with it.
            assert key is not None  # the epoch passes one key per minibatch when progressive_alpha > 0
            t = batch.iterations  # progressive_alpha > 0 needs a recurrent net (__init__)
            n_key, k_key = jax.random.split(key)
            n = jax.random.randint(n_key, t.shape, 0, t)
            k = jax.random.randint(k_key, t.shape, 1, t - n + 1)
            _, _, partial = networks.apply_batch(self.network, params, obs, n + k, method="with_node_values", no_grad=n)
            later = node_value_loss(partial, batch.labels, obs.depth, obs.node_type != 0, n + k, cfg.aux_target, first_row=n)
            loss = (1.0 - cfg.progressive_alpha) * loss + cfg.progressive_alpha * later
        return loss

    def _loss(self, params, batch: Transition, advantages: jax.Array, targets: jax.Array, key: jax.Array | None = None):
        cfg = self.config
        forced = batch.iterations if cfg.random_iterations else None
        if self.node_values:
            logits, value, rows = networks.apply_batch(self.network, params, batch.obs, forced, method="with_node_values")
        else:
            logits, value = self.apply(params, batch.obs, forced)
        mask = batch.obs.action_mask
        logp_all = log_probs(logits, mask)
        logp = jnp.take_along_axis(logp_all, batch.action[:, None], axis=-1)[:, 0]
        log_ratio = logp - batch.log_prob
        ratio = jnp.exp(log_ratio)
        if cfg.normalize_advantages:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        pg = jnp.maximum(-advantages * ratio, -advantages * jnp.clip(ratio, 1.0 - cfg.clip_eps, 1.0 + cfg.clip_eps)).mean()
        v_loss = jnp.square(value - targets)
        if cfg.clip_value:
            clipped = batch.value + jnp.clip(value - batch.value, -cfg.clip_eps, cfg.clip_eps)
            v_loss = jnp.maximum(v_loss, jnp.square(clipped - targets))
        v_loss = 0.5 * v_loss.mean()
        ent = entropy(logits, mask).mean()
        loss = pg + cfg.vf_coef * v_loss - cfg.ent_coef * ent
        aux_loss = jnp.float32(0.0)
        if self.node_values:
            aux_loss = self._aux_loss(params, batch, rows, key)
            loss = loss + cfg.aux_coef * aux_loss
        aux = {
            "aux_loss": aux_loss,
            "policy_loss": pg,
            "value_loss": v_loss,
            "entropy": ent,
            "approx_kl": ((ratio - 1.0) - log_ratio).mean(),
            "clip_fraction": (jnp.abs(ratio - 1.0) > cfg.clip_eps).mean(),
        }
        return loss, aux

    def update(self, state: TrainState) -> tuple[TrainState, Totals]:
        """One PPO iteration: a rollout, GAE, then epochs of minibatch steps."""
        cfg = self.config
        state, traj, last_value, totals = self._rollout(state)
        if self.curriculum is not None:
            batch_ratio = totals.greedy_ratio / jnp.maximum(totals.greedy_episodes, 1.0)
            totals = totals._replace(curriculum=jnp.float32(1), level=state.curriculum.level.astype(jnp.float32))
            state = state.replace(curriculum=curriculum_lib.advance(self.curriculum, state.curriculum, batch_ratio))
        next_values = jnp.concatenate([traj.value[1:], last_value[None]], axis=0)
        next_values = jnp.where(traj.done > 0, traj.bootstrap, next_values)
        advantages, targets = gae(traj.reward, traj.value, next_values, traj.terminated, traj.done, cfg.gamma, cfg.gae_lambda)
        flat = lambda x: x.reshape((cfg.batch_size,) + x.shape[2:])
        data = jax.tree.map(flat, (traj, advantages, targets))
        lr_scale = 1.0 if self.curriculum is None else curriculum_lib.lr_scale(self.curriculum, state.curriculum)

        def epoch(carry, _):
            params, opt_state, key = carry
            key, perm_key = jax.random.split(key)
            perm = jax.random.permutation(perm_key, cfg.batch_size)
            shuffled = jax.tree.map(lambda x: x[perm].reshape((cfg.num_minibatches, cfg.minibatch_size) + x.shape[1:]), data)

            if cfg.progressive_alpha > 0:
                shuffled = (*shuffled, jax.random.split(jax.random.fold_in(perm_key, 1), cfg.num_minibatches))

            def minibatch(carry, mb):
                params, opt_state = carry
                (loss, aux), grads = jax.value_and_grad(self._loss, has_aux=True)(params, *mb)
                updates, opt_state = self.optimizer.update(grads, opt_state, params)
                params = optax.apply_updates(params, optax.tree.scale(lr_scale, updates))
                aux = dict(aux, loss=loss, grad_norm=optax.tree.norm(grads))
                return (params, opt_state), aux

            (params, opt_state), aux = jax.lax.scan(minibatch, (params, opt_state), shuffled)
            return (params, opt_state, key), aux

        (params, opt_state, key), aux = jax.lax.scan(epoch, (state.params, state.opt_state, state.key), None, cfg.update_epochs)
        aux = jax.tree.map(jnp.mean, aux)
        var_targets = jnp.var(targets)
        explained = jnp.where(var_targets > 0, 1.0 - jnp.var(targets - traj.value) / var_targets, 0.0)
        gradient_steps = state.update * cfg.update_epochs * cfg.num_minibatches
        totals = totals._replace(
            updates=jnp.float32(1),
            policy_loss=aux["policy_loss"],
            value_loss=aux["value_loss"],
            entropy=aux["entropy"],
            approx_kl=aux["approx_kl"],
            clip_fraction=aux["clip_fraction"],
            explained_variance=explained,
            grad_norm=aux["grad_norm"],
            learning_rate=lr_scale * jnp.asarray(self.learning_rate(gradient_steps), jnp.float32),
            nonfinite=(~jnp.isfinite(aux["loss"])).astype(jnp.float32),
            aux_loss=aux["aux_loss"],
        )
        state = state.replace(params=params, opt_state=opt_state, key=key, update=state.update + 1)
        if state.spare_params is not None:
            state = self._restart_if_stalled(state)
        return state, totals

    def _restart_if_stalled(self, state: TrainState) -> TrainState:
        """Fresh parameters and optimizer at curriculum level 0 if the run stalled at a level (counted)."""
        assert self.curriculum is not None  # spare params exist only with a curriculum
        stalled = curriculum_lib.stalled(self.curriculum, state.curriculum)
        index = jnp.minimum(state.curriculum.restarts, self.curriculum.max_restarts - 1)
        params = jax.tree.map(lambda x: x[index], state.spare_params)
        pick = lambda new, old: jnp.where(stalled, new, old)
        return state.replace(
            params=jax.tree.map(pick, params, state.params),
            opt_state=jax.tree.map(pick, self.optimizer.init(params), state.opt_state),
            curriculum=curriculum_lib.restart(state.curriculum, stalled),
        )
