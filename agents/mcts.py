"""MCTS on the true environment model, built on mctx.

The search model is the environment itself: a tree node's embedding is its
`EnvState`, and expanding an edge calls `env.step` (deterministic, so the
model is exact). Rewards are the env's (a depth, 0..max_depth, on the last
step), the game is undiscounted (discount 1), and a terminated state is
absorbing: the edge into it gets discount 0, and stepping it again (which the
search may do) returns it unchanged with reward 0.

    from do1rl.agents.mcts import MCTSConfig, make_mcts_policy
    from do1rl.evaluation import evaluate

    policy = make_mcts_policy(env, params, MCTSConfig(simulations=64))
    report = evaluate(env, params, policy, episodes=256, seed=0)

`policy(key, obs, state)` runs a batch-1 search for one episode; the
evaluator vmaps it, which batches the searches across episodes inside one
jitted loop, and each episode keeps its own random keys (results do not
depend on chunking). `policy.search(key, states)` is the batched search
itself and returns mctx's `PolicyOutput`, tree included.

Search (mctx does it; nothing here walks the tree by hand):

- "gumbel" (default): `mctx.gumbel_muzero_policy`: sequential halving with
  Gumbel noise over `max_considered` root actions (default: all legal ones,
  so once `simulations` >= the number of legal actions every legal root
  action is expanded), deterministic selection below; Q-values completed and
  rescaled to [0, 1] per node by `qtransform_completed_by_mix_value`, so
  depth-valued rewards need no scaling and all-equal Q (e.g. all 0) is fine.
- "muzero": `mctx.muzero_policy` (PUCT, Q rescaled by parent and siblings),
  acting with the most-visited root action, no Dirichlet noise by default.

Masking: mctx masks only the root (`invalid_actions` = ~`action_mask`).
Every node below gets prior logit `finfo(float32).min` on the actions its
own state's `env.action_mask` forbids, i.e. prior probability exactly 0, and
then neither interior rule picks them: Gumbel's interior rule maximises
`p(a) - n(a) / (1 + sum n)`, which sums to `1 / (1 + sum n) > 0` over the
legal actions, so some legal action beats every illegal one (score 0);
PUCT gives an illegal action bonus 0 and the legal action of largest prior
a bonus of at least c1 / (A (1 + simulations)), far above mctx's 1e-7
tie-break noise, while normalised Q is 0 for unvisited actions.
`tests/test_mcts.py` checks every expanded edge of every tree, also under a
prior that puts its mass on illegal actions.

Priors and leaf values: `prior_fn(obs) -> (logits float32[A], value
float32[])` for ONE observation (vmapped inside); default uniform logits,
value 0. A trained actor-critic plugs in here; its values must be in return
units (depths), which `prior_value_scale` fixes for a critic trained on
scaled rewards. The value of a new leaf is set by `MCTSConfig.leaf_value`:

- "prior": the prior's value (0 for the default prior).
- "finish": the return of ending the episode now (STOP, or no-ops to the
  horizon, which return the same): the env's terminal reward for the gates
  selected so far, 0 before DO1's forced choice. A one-step rollout of the
  true model and an achievable return, so a lower bound on V*(s).
- "max" (default): the larger of the two; "finish" for the default prior.

Why not value 0 by default: the reward comes only at termination, and with
uniform priors the interior rule tries a node's actions in index order (STOP
last), so a value-0 search almost never sees a non-zero return. With
"finish", trying gate g at the root is worth depth(g) if g outputs 1 and 0
otherwise, one simulation each.

Two more choices the uniform prior needs (`MCTSConfig`):

- `q_floor` (default True): mctx backs up means, and exploring below a good
  gate visits gates that output 0, so its mean falls below what it
  guarantees, while STOP's Q stays exact; the search then stops early. The
  floor (a qtransform wrapper) reads a visited child's value as at least its
  own leaf value. With "finish" leaves (the default prior) that is a sound
  lower bound, Q(g*) = d1 for the best gate, and with `gumbel_scale=0` and
  `simulations` >= the number of legal root actions the agent has zero
  regret whatever `max_depth` (tested with STOP).
- `tie_break` (default 1e-4): uniform noise of that size on each node's
  prior logits (from the search's keys), so ties among equal priors are
  broken at random rather than by action index (which tries the deepest
  gates last).

`gumbel_scale=1` (the default, as in mctx) keeps the root noise that
Gumbel MuZero uses for policy improvement; when Q differences are small
(depth 3 against depth 4) it sometimes outweighs them, so for evaluation
use `gumbel_scale=0`.

Serial compute, in the networks' unit (sequentially dependent layer
applications). Let L be the prior network's serial depth
(`prior_serial_depth(obs)`; 0 for the uniform prior, a constant). A
decision evaluates the prior at the root (L), then runs `simulations`
simulations one after another, each expanding exactly one edge: one env
step (the true model, counted as 1 layer; the "finish" value is the terminal
reward that step computes anyway) followed by the prior on the new node (L):

    serial_depth_per_decision = L + simulations * (1 + L)

which is `simulations` for the uniform prior. Tree bookkeeping (the
selection walk and the backup, at most `max_depth` argmax/add steps per
simulation) is not a layer application and is not counted.

Cost: on CPU the time per decision grows faster than linearly in
`simulations` (10-16x from 64 to 256 simulations at depth 4, width 4): the
per-simulation work of mctx's batched loops (selection walk, backup) grows
with the tree, more so the deeper it gets (`max_depth=1` is about 8x
faster at 256 simulations).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import mctx

from do1rl.agents.masking import masked_logits
from do1rl.core.solver import terminal_reward

PriorFn = Callable[[dict], tuple[jax.Array, jax.Array]]
SerialDepthFn = Callable[[dict], jax.Array]

ALGORITHMS = ("gumbel", "muzero")
LEAF_VALUES = ("max", "finish", "prior")


@dataclasses.dataclass(frozen=True)
class MCTSConfig:
    """Search settings (all static: each distinct config compiles once).

    Attributes:
      simulations: simulations per decision (>= 1); the tree has this many
        nodes plus the root.
      algorithm: "gumbel" (`mctx.gumbel_muzero_policy`, default) or "muzero"
        (`mctx.muzero_policy`, PUCT).
      max_considered: gumbel only: actions sampled at the root for sequential
        halving; None = every action (then every legal root action is
        considered). Values above the action count are clipped to it.
      gumbel_scale: gumbel only: scale of the root Gumbel noise (0 for
        evaluation; see the module docstring).
      max_depth: tree depth cap in edges from the root; None = the env's
        `max_horizon`, deep enough to reach termination from any state.
      leaf_value: "max" (default), "finish" or "prior"; see the module
        docstring.
      pb_c_init: muzero only: PUCT exploration constant c1.
      dirichlet_fraction: muzero only: weight of Dirichlet noise on the root
        prior (0 = none, the evaluation setting; MuZero self-play uses 0.25).
      temperature: muzero only: act with visit_counts ** (1 / temperature);
        0 = the most-visited action.
      tie_break: scale of the uniform noise added to every node's prior
        logits to break ties at random (0 = by action index).
      q_floor: read a visited child's value as at least its own leaf value
        (see the module docstring).
    """

    simulations: int = 64
    algorithm: str = "gumbel"
    max_considered: int | None = None
    gumbel_scale: float = 1.0
    max_depth: int | None = None
    leaf_value: str = "max"
    pb_c_init: float = 1.25
    dirichlet_fraction: float = 0.0
    temperature: float = 0.0
    tie_break: float = 1e-4
    q_floor: bool = True

    def __post_init__(self):
        if int(self.simulations) < 1:
            raise ValueError(f"simulations must be >= 1, got {self.simulations}")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown MCTS algorithm {self.algorithm!r}; choose from {', '.join(ALGORITHMS)}")
        if self.max_considered is not None and int(self.max_considered) < 1:
            raise ValueError(f"max_considered must be None or >= 1, got {self.max_considered}")
        if self.max_depth is not None and int(self.max_depth) < 1:
            raise ValueError(f"max_depth must be None or >= 1, got {self.max_depth}")
        if self.leaf_value not in LEAF_VALUES:
            raise ValueError(f"unknown leaf_value {self.leaf_value!r}; choose from {', '.join(LEAF_VALUES)}")
        if not 0.0 <= float(self.dirichlet_fraction) <= 1.0:
            raise ValueError(f"dirichlet_fraction must be in [0, 1], got {self.dirichlet_fraction}")
        if min(float(self.gumbel_scale), float(self.temperature), float(self.tie_break)) < 0:
            raise ValueError("gumbel_scale, temperature and tie_break must be >= 0")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def serial_depth_per_decision(config: MCTSConfig, prior_serial_depth: Any = 0) -> Any:
    """Serial depth of one MCTS decision: `L + simulations * (1 + L)`.

    `prior_serial_depth` is L, the prior network's serial depth (0 for the
    uniform prior); an int gives an int, a JAX array a JAX array. The env
    step is counted as 1 layer. See the module docstring.
    """
    depth = prior_serial_depth
    return depth + config.simulations * (1 + depth)


def floor_qtransform(qtransform):
    """Wraps an mctx qtransform: a visited child's value counts as at least its leaf value.

    mctx stores each child's mean backed-up value; the wrapper hands the
    qtransform `max(mean, raw leaf value)` for visited children of the node
    (through a one-node view of the tree, so nothing else is copied).
    """

    def floored(tree: mctx.Tree, node_index: jax.Array) -> jax.Array:
        children = tree.children_index[node_index]
        visited = tree.children_visits[node_index] > 0
        values = tree.children_values[node_index]
        leaf = tree.raw_values[jnp.maximum(children, 0)]
        values = jnp.where(visited, jnp.maximum(values, leaf), values)
        # A one-node view of the tree: the rows the qtransform reads, with floored values.
        row = lambda x: x[node_index][None]
        view = tree.replace(
            children_values=values[None],
            children_index=row(tree.children_index),
            children_visits=row(tree.children_visits),
            children_rewards=row(tree.children_rewards),
            children_discounts=row(tree.children_discounts),
            children_prior_logits=row(tree.children_prior_logits),
            raw_values=row(tree.raw_values),
            node_values=row(tree.node_values),
            node_visits=row(tree.node_visits),
        )
        return qtransform(view, jnp.int32(0))

    return floored


def uniform_prior(num_actions: int) -> PriorFn:
    """The default prior: zero logits (uniform) and value 0."""

    def prior(obs: dict) -> tuple[jax.Array, jax.Array]:
        del obs
        return jnp.zeros((num_actions,), jnp.float32), jnp.float32(0)

    return prior


def mask_logits(logits: jax.Array, mask: jax.Array) -> jax.Array:
    """Legal logits shifted so their max is 0; illegal ones `MASKED_LOGIT`."""
    logits = jnp.asarray(logits, jnp.float32)
    top = jnp.max(jnp.where(mask, logits, -jnp.inf), axis=-1, keepdims=True)
    top = jnp.where(jnp.isfinite(top), top, 0.0)
    return masked_logits(logits - top, mask)


def finish_value(state) -> jax.Array:
    """float32[]: the return of ending the episode now (0 once terminated)."""
    reward = terminal_reward(state.selected, state.value, state.depth)
    return jnp.where(state.terminated, 0, reward).astype(jnp.float32)


class MCTSPolicy:
    """MCTS with the env as its model.

    `policy(key, obs, state) -> int32[]` acts in ONE episode (the evaluator's
    signature; it runs a batch-1 search, and vmapping it over episodes
    batches the searches). `policy.search(key, states)` runs the batched
    search on states with a leading batch axis and returns mctx's
    `PolicyOutput` (action, action_weights, search_tree).
    """

    def __init__(
        self,
        env,
        env_params,
        config: MCTSConfig,
        prior_fn: PriorFn | None = None,
        prior_serial_depth: SerialDepthFn | None = None,
        prior_value_scale: float = 1.0,
    ):
        self.env = env
        self.env_params = env.default_params() if env_params is None else env_params
        self.config = config
        self.prior_fn = uniform_prior(env.num_actions) if prior_fn is None else prior_fn
        self.prior_serial_depth = prior_serial_depth
        self.prior_value_scale = float(prior_value_scale)
        self.max_depth = int(config.max_depth or env.max_horizon)
        considered = env.num_actions if config.max_considered is None else config.max_considered
        self.max_considered = int(min(considered, env.num_actions))

    # ----- the model -------------------------------------------------------------
    def _evaluate(self, key, obs: dict, states) -> tuple[jax.Array, jax.Array]:
        """Masked prior logits [B, A] and leaf values [B] of a batch of nodes."""
        logits, value = jax.vmap(self.prior_fn)(obs)
        if self.config.tie_break:
            logits = logits + self.config.tie_break * jax.random.uniform(key, logits.shape)
        logits = mask_logits(logits, obs.action_mask)
        value = self.prior_value_scale * jnp.asarray(value, jnp.float32).reshape(logits.shape[:1])
        if self.config.leaf_value != "prior":
            finish = jax.vmap(finish_value)(states)
            value = finish if self.config.leaf_value == "finish" else jnp.maximum(value, finish)
        return logits, jnp.where(states.terminated, 0.0, value)

    def _recurrent_fn(self, env_params, key, action, states):
        step = jax.vmap(self.env.step, in_axes=(None, 0, 0, None))
        obs, states, reward, terminated, _, _ = step(key, states, action, env_params)
        logits, value = self._evaluate(key, obs, states)
        out = mctx.RecurrentFnOutput(
            reward=reward.astype(jnp.float32),
            discount=jnp.where(terminated, 0.0, 1.0).astype(jnp.float32),
            prior_logits=logits,
            value=value,
        )
        return out, states

    # ----- search ----------------------------------------------------------------
    def search(self, key: jax.Array, states) -> mctx.PolicyOutput:
        """Batched search from `states` (EnvState with a leading batch axis B)."""
        cfg = self.config
        obs = jax.vmap(self.env.get_obs)(states)
        key, root_key = jax.random.split(key)
        logits, value = self._evaluate(root_key, obs, states)
        root = mctx.RootFnOutput(prior_logits=logits, value=value, embedding=states)
        invalid = ~obs.action_mask
        common = {
            "params": self.env_params,
            "rng_key": key,
            "root": root,
            "recurrent_fn": self._recurrent_fn,
            "num_simulations": cfg.simulations,
            "invalid_actions": invalid,
            "max_depth": self.max_depth,
        }
        if cfg.algorithm == "gumbel":
            qtransform = mctx.qtransform_completed_by_mix_value
            return mctx.gumbel_muzero_policy(
                **common,
                max_num_considered_actions=self.max_considered,
                gumbel_scale=cfg.gumbel_scale,
                qtransform=floor_qtransform(qtransform) if cfg.q_floor else qtransform,
            )
        qtransform = mctx.qtransform_by_parent_and_siblings
        return mctx.muzero_policy(
            **common,
            qtransform=floor_qtransform(qtransform) if cfg.q_floor else qtransform,
            pb_c_init=cfg.pb_c_init,
            dirichlet_fraction=float(cfg.dirichlet_fraction),
            temperature=cfg.temperature,
        )

    def __call__(self, key: jax.Array, obs: dict, state) -> jax.Array:
        del obs  # the state holds everything the model needs
        batch = jax.tree.map(lambda x: x[None], state)
        return self.search(key, batch).action[0].astype(jnp.int32)

    # ----- accounting ------------------------------------------------------------
    def serial_depth(self, obs: dict) -> jax.Array:
        """int32[]: serial depth of one decision from `obs` (see the module docstring)."""
        depth = jnp.int32(0) if self.prior_serial_depth is None else self.prior_serial_depth(obs)
        return jnp.asarray(serial_depth_per_decision(self.config, jnp.asarray(depth, jnp.int32)), jnp.int32)

    def describe(self, obs: dict | None = None) -> dict:
        """The settings and serial depth per decision, for reports (JSON-ready).

        L (the prior's serial depth) is read at `obs`, or at the first
        observation of a reset with key 0 when `obs` is None.
        """
        if self.prior_serial_depth is None:
            prior_depth = 0
        else:
            if obs is None:
                obs, _ = jax.jit(self.env.reset)(jax.random.key(0), self.env_params)
            prior_depth = int(self.prior_serial_depth(obs))
        settings = self.config.as_dict()
        settings.update(max_depth=self.max_depth, max_considered=self.max_considered)
        return {
            "mcts": settings,
            "prior_serial_depth": prior_depth,
            "prior_value_scale": self.prior_value_scale,
            "serial_depth_per_decision": int(serial_depth_per_decision(self.config, prior_depth)),
        }


def make_mcts_policy(
    env,
    env_params=None,
    config: MCTSConfig | None = None,
    prior_fn: PriorFn | None = None,
    prior_serial_depth: SerialDepthFn | None = None,
    prior_value_scale: float = 1.0,
) -> MCTSPolicy:
    """An `MCTSPolicy` (`policy(key, obs, state) -> action`) for `env`.

    Args:
      env: a functional env (`DO1`, `AlternatingCircuit`).
      env_params: its `EnvParams` (default `env.default_params()`); forwarded
        to `env.step` inside the search.
      config: `MCTSConfig` (default `MCTSConfig()`).
      prior_fn: `obs -> (logits float32[A], value float32[])` for one
        observation; None = uniform logits, value 0.
      prior_serial_depth: `obs -> int32[]`, the prior network's serial depth,
        used only for `serial_depth` / `describe`; None = 0.
      prior_value_scale: multiplies the prior's values into return units
        (depths), e.g. `env.max_depth` for a critic trained on rewards scaled
        by `1 / max_depth` (PPO's `scale_rewards`).
    """
    return MCTSPolicy(env, env_params, config or MCTSConfig(), prior_fn, prior_serial_depth, prior_value_scale)
