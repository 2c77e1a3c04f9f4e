"""Gymnasium front ends for the functional environments.

`CircuitGymEnv` wraps one functional env (`DO1` or `AlternatingCircuit`) as a
`gymnasium.Env`; `CircuitVectorEnv` runs `num_envs` copies in one jitted,
vmapped call. `make_do1` / `make_alternating` (and their `_vector`
versions) are the factories behind `gymnasium.make("do1rl/DO1-v0", ...)`.
(One module on purpose, past 450 lines: the single and vector envs share
their compiled functions, action checks and reset options.)

Observations are numpy versions of the functional observation, except that
the flags `selected` and `action_mask` are int8 0/1 (`MultiBinary`);
`CircuitGymEnv.action_masks()` gives the mask as bool (sb3-contrib
MaskablePPO convention; through `gymnasium.make`'s wrappers reach it as
`env.unwrapped.action_masks()` or `env.get_wrapper_attr("action_masks")()`).

Compiled functions are shared by all envs of one configuration (a module
cache keyed by the env's type, sizes and default params), envs pickle (the
cache is rebuilt on unpickling), and render modes are "ansi" and "rgb_array".
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from types import FrameType
from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AsyncVectorEnv
from gymnasium.vector.utils import batch_space
from gymnasium.vector.vector_env import AutoresetMode

from do1rl.core import limits
from do1rl.core.checks import is_integer
from do1rl.core.circuit import OR
from do1rl.envs import render as _render
from do1rl.envs.make import ALTERNATING_ID, DO1_ID, EnvArgumentError, make
from do1rl.envs.types import EnvParams, Observation

_SEED_BOUND = 2**31 - 1  # episode seeds are int32, so they can be traced as jit arguments
_INFO_KEYS = ("invalid_action", "optimal_return", "circuit_depth", "horizon")
RENDER_MODES = ["ansi", "rgb_array"]
# reset(options=...) keys each env accepts (applied to that reset only).
RESET_OPTIONS = {"DO1": ("chain_length",), "AlternatingCircuit": ()}
_CACHE_SIZE = 32
# Warn (once per process) when a learner ignores the mask: this many steps, mostly invalid.
_MASK_WARN_STEPS = 200
_MASK_WARN_FRACTION = 0.5
_mask_warned = False
_forked_after_import = False


def _mark_forked() -> None:
    global _forked_after_import
    _forked_after_import = True


os.register_at_fork(after_in_child=_mark_forked)


def observation_space(env: Any) -> spaces.Dict:
    """The Gymnasium space of one observation of a functional env."""
    n, f, a = env.num_nodes, env.fanin_slots, env.num_actions
    return spaces.Dict(
        {
            "node_type": spaces.Box(0, OR, (n,), np.int8),
            "fanin": spaces.Box(-1, n - 1, (n, f), np.int32),
            "depth": spaces.Box(0, env.max_depth, (n,), np.int32),
            "circuit_id": spaces.Box(0, 1, (n,), np.int8),
            "selected": spaces.MultiBinary(n),
            "action_mask": spaces.MultiBinary(a),
            # Shape (1,) rather than (): flattening feature extractors (SB3's) need a dim.
            "steps_left": spaces.Box(0, env.max_horizon, (1,), np.int32),
        }
    )


def _gym_obs(obs: Observation) -> dict[str, jax.Array]:
    """Functional observation -> the dict and dtypes of `observation_space` (inside jit)."""
    out = obs._asdict()
    out["selected"] = obs.selected.astype(jnp.int8)
    out["action_mask"] = obs.action_mask.astype(jnp.int8)
    out["steps_left"] = obs.steps_left[..., None]
    return out


def _episode_info(state: Any) -> dict[str, jax.Array]:
    return {
        "optimal_return": state.optimal_return,
        "circuit_depth": state.circuit_depth,
        "horizon": state.horizon,
    }


_JITTED: OrderedDict[Hashable, _Jitted] = OrderedDict()


def _config_key(env: Any) -> Hashable:
    """A hashable description of everything the compiled functions of `env` depend on."""
    leaves, treedef = jax.tree.flatten(env.default_params)
    arrays = tuple((np.asarray(x).dtype.str, np.shape(x), np.asarray(x).tobytes()) for x in leaves)
    sizes = (
        env.num_nodes,
        env.fanin_slots,
        env.stop_action,
        env.max_depth,
        env.max_horizon,
        getattr(env, "max_chain_length", None),
        getattr(env, "main_nodes", None),
    )
    return (type(env), sizes, treedef, arrays)


def _jitted(env: Any) -> _Jitted:
    """The jitted functions for `env`'s configuration, shared by every env with the same one."""
    key = _config_key(env)
    fns = _JITTED.get(key)
    if fns is None:
        fns = _JITTED[key] = _Jitted(env)
        if len(_JITTED) > _CACHE_SIZE:
            _JITTED.popitem(last=False)
    _JITTED.move_to_end(key)
    return fns


class _Jitted:
    """reset / step / reset-or-step of one functional env, jitted once."""

    def __init__(self, env: Any):
        def reset(seed, params):
            obs, state = env.reset(jax.random.key(seed), params)
            return _gym_obs(obs), state, _episode_info(state)

        def step(state, action, params):
            obs, state, reward, terminated, truncated, info = env.step(jax.random.key(0), state, action, params)
            return _gym_obs(obs), state, reward, terminated, truncated, info

        def reset_or_step(seed, reset_now, state, action, params):
            # Next-step autoreset: an env whose last step ended is reset
            # instead of stepped (reward 0, not terminated, action ignored).
            obs_s, state_s, reward, terminated, truncated, info = step(state, action, params)
            obs_r, state_r, _ = reset(seed, params)
            pick = lambda r, s: jnp.where(reset_now, r, s)
            info = jax.tree.map(pick, dict(_episode_info(state_r), invalid_action=jnp.bool_(False)), info)
            return (
                jax.tree.map(pick, obs_r, obs_s),
                jax.tree.map(pick, state_r, state_s),
                jnp.where(reset_now, 0.0, reward).astype(jnp.float32),
                terminated & ~reset_now,
                truncated & ~reset_now,
                info,
            )

        self.reset = jax.jit(reset)
        self.step = jax.jit(step)
        self.mask = jax.jit(env.action_mask)
        self.optimal_value = jax.jit(env.optimal_value)
        self.batch_reset = jax.jit(jax.vmap(reset, in_axes=(0, None)))
        self.batch_reset_or_step = jax.jit(jax.vmap(reset_or_step, in_axes=(0, 0, 0, 0, None)))
        self.batch_mask = jax.jit(jax.vmap(env.action_mask))


def _draw_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, _SEED_BOUND))


def _check_render_mode(render_mode: str | None) -> str | None:
    if render_mode is not None and render_mode not in RENDER_MODES:
        # A TypeError too, so SB3's make_vec_env retries without render_mode.
        raise EnvArgumentError(f"render_mode={limits.show(render_mode)} is not supported; use None, {', '.join(map(repr, RENDER_MODES))}")
    return render_mode


def reset_params(env: Any, params: EnvParams, options: dict[str, Any] | None) -> EnvParams:
    """`params` with the documented `reset(options=...)` applied; unknown options raise ValueError.

    DO1: `chain_length` k (an integer, 1 <= k <= the env's maximum K, or 0
    for k uniform in 1..K) for this reset only. AlternatingCircuit: none.
    """
    if not options:
        return params
    valid = RESET_OPTIONS[type(env).__name__]
    unknown = sorted(k for k in options if k not in valid)
    if unknown:
        raise ValueError(f"unknown reset option(s) {', '.join(map(repr, unknown))}; valid options: {', '.join(valid) or 'none'}")
    if "chain_length" in options:
        k, big_k = options["chain_length"], env.max_chain_length
        if not is_integer(k) or not 0 <= int(k) <= big_k:
            raise ValueError(f"reset option chain_length must be an integer in 0..{big_k} (0 = random), got {k!r}")
        params = params.replace(chain_length=jnp.int32(int(k)))  # type: ignore[attr-defined]  # flax.struct adds replace
    return params


_FORK_MESSAGE = (
    "do1rl envs cannot run in forked worker processes (JAX is not fork-safe and would hang); "
    "use gymnasium.make_vec(..., vectorization_mode='async', vector_kwargs={'context': 'spawn'}) "
    "or the default vector_entry_point mode"
)


def _check_not_forked() -> None:
    """RuntimeError in a forked worker; ValueError in the parent of an AsyncVectorEnv about to fork its workers.

    AsyncVectorEnv builds one env in the parent (for the spaces) before it
    starts any worker, so refusing there gives the user one error, where a
    refusal in each forked worker gave a traceback per worker and a
    ConnectionResetError in the parent.
    """
    if _forked_after_import:
        raise RuntimeError(_FORK_MESSAGE)
    if _async_parent_will_fork():
        raise ValueError(_FORK_MESSAGE)


def _async_parent_will_fork() -> bool:
    """True while an `AsyncVectorEnv.__init__` that will fork its workers is on the call stack."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if frame.f_code.co_name == "__init__" and isinstance(owner, AsyncVectorEnv):
            context = multiprocessing.get_context(getattr(owner, "context", None))
            return context.get_start_method() == "fork"
        frame = frame.f_back
    return False


def _note_invalid(counts: np.ndarray, invalid: Any) -> None:
    """Counts steps and invalid actions; warns once per process if most actions were masked."""
    global _mask_warned
    invalid = np.asarray(invalid)
    counts += (invalid.size, int(invalid.sum()))
    if not _mask_warned and counts[0] >= _MASK_WARN_STEPS and counts[1] > _MASK_WARN_FRACTION * counts[0]:
        _mask_warned = True
        warnings.warn(
            f"{counts[1]} of {counts[0]} actions were masked (a masked action is a no-op): the learner ignores "
            "the action mask; use a masking learner (sb3-contrib MaskablePPO with env.action_masks())",
            stacklevel=3,
        )


class CircuitGymEnv(gymnasium.Env):
    """A functional circuit env (`DO1`, `AlternatingCircuit`) as a `gymnasium.Env`.

    Observation, action, reward and termination are those of the functional
    env (see its docstring), with `selected` and `action_mask` as int8 0/1.
    `truncated` is always False: the horizon is part of the MDP.

    - `reset(seed=s)` seeds the env's `np_random`, from which each episode's
      JAX key is drawn, so a seeded sequence of episodes is reproducible.
    - `step(a)` with `a` outside `action_space` raises ValueError. A masked
      `a` inside it is a no-op (time advances), with `info["invalid_action"]`.
    - `info` always has `optimal_return` (V*(s0)), `circuit_depth` (depth
      of C) and `horizon` (H) of the current episode.
    - `reset(options=...)`: see `reset_params` (DO1: `chain_length`).
    - `state` is the current functional `EnvState`; `action_masks()` the
      bool mask; `optimal_value()` V*(s) of the current state.
    - `render()`: "ansi" text or an "rgb_array" picture (`do1rl.envs.render`).
    - A learner whose actions are mostly masked gets one warning per process.
    """

    metadata: dict[str, Any] = {"render_modes": RENDER_MODES}  # noqa: RUF012 (gymnasium.Env declares it so)

    def __init__(self, env: Any, params: EnvParams | None = None, render_mode: str | None = None):
        self.render_mode = _check_render_mode(render_mode)
        self.env = env
        self.params = env.default_params if params is None else params
        self.observation_space = observation_space(env)
        self.action_space = spaces.Discrete(env.num_actions)
        self._fns = _jitted(env)
        self._action_counts = np.zeros(2, np.int64)
        self.state = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_fns")  # compiled functions do not pickle; rebuilt (or found in the cache) on load
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._fns = _jitted(self.env)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        params = reset_params(self.env, self.params, options)
        obs, self.state, info = self._fns.reset(_draw_seed(self.np_random), params)
        return _to_numpy(obs), _to_python(info)

    def step(self, action):
        if isinstance(action, (bool, np.bool_)) or not self.action_space.contains(action):
            shown = action.item() if isinstance(action, np.generic) else action
            raise ValueError(f"action {shown!r} is not in the action space {self.action_space}")
        if self.state is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        obs, self.state, reward, terminated, truncated, info = self._fns.step(self.state, jnp.int32(int(action)), self.params)
        _note_invalid(self._action_counts, info["invalid_action"])
        return (
            _to_numpy(obs),
            float(reward),
            bool(terminated),
            bool(truncated),
            _to_python(info),
        )

    def action_masks(self) -> np.ndarray:
        """bool[A]: the legal actions of the current state."""
        if self.state is None:
            raise gymnasium.error.ResetNeeded("call reset() before action_masks()")
        return np.array(self._fns.mask(self.state), dtype=bool)

    def optimal_value(self) -> int:
        """V*(s) of the current state."""
        return int(self._fns.optimal_value(self.state))

    def render(self):
        """The current state as text ("ansi") or an RGB picture ("rgb_array"); None without a render mode."""
        if self.render_mode is None:
            return None
        if self.state is None:
            raise gymnasium.error.ResetNeeded("call reset() before render()")
        state = jax.device_get(self.state)
        return _render.ansi(state) if self.render_mode == "ansi" else _render.rgb_array(state)


class CircuitVectorEnv(gymnasium.vector.VectorEnv):
    """`num_envs` copies of a functional env, stepped in one jitted vmapped call.

    Autoreset is Gymnasium's next-step mode (`metadata["autoreset_mode"]` is
    `AutoresetMode.NEXT_STEP`): the step that ends an episode returns its
    terminal observation and reward; the next `step` call resets that copy
    instead (its action is ignored, reward 0, not terminated) and returns
    the first observation of a new episode.

    Seeding: `reset(seed=s)` seeds copy i with `s + i` (or `seed[i]` for a
    list), and copy i then draws its episodes exactly as
    `CircuitGymEnv.reset(seed=s + i)` followed by plain `reset()` calls does.
    `infos` holds arrays `invalid_action`, `optimal_return`, `circuit_depth`,
    `horizon` (with the `_key` masks of the vector info convention).
    """

    metadata: dict[str, Any] = {"render_modes": RENDER_MODES, "autoreset_mode": AutoresetMode.NEXT_STEP}  # noqa: RUF012 (as in VectorEnv)

    def __init__(self, env: Any, num_envs: int, params: EnvParams | None = None, render_mode: str | None = None):
        self.render_mode = _check_render_mode(render_mode)
        if not is_integer(num_envs) or int(num_envs) < 1:
            raise EnvArgumentError(f"num_envs must be an integer >= 1, got {limits.show(num_envs)}")
        need = int(num_envs) * env.num_nodes * (4 * env.fanin_slots + 8)  # one env state per copy, as evaluation.cost counts
        if need > limits.MAX_VECTOR_ENV_BYTES:
            raise EnvArgumentError(
                f"num_envs={int(num_envs)} needs about {need / 2**30:,.1f} GiB of env states, over the limit of "
                f"{limits.MAX_VECTOR_ENV_BYTES >> 30} GiB; use fewer copies or a smaller env"
            )
        self.env = env
        self.num_envs = int(num_envs)
        self.params = env.default_params if params is None else params
        self.single_observation_space = observation_space(env)
        self.single_action_space = spaces.Discrete(env.num_actions)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._fns = _jitted(env)
        self._rngs = [seeding.np_random(None)[0] for _ in range(self.num_envs)]
        self._autoreset = np.zeros(self.num_envs, bool)
        self._action_counts = np.zeros(2, np.int64)
        self.state = None

    __getstate__ = CircuitGymEnv.__getstate__
    __setstate__ = CircuitGymEnv.__setstate__

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None):
        seeds: list[int | None]
        if seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"got {len(seeds)} seeds for {self.num_envs} envs")
        if seed is not None or self.state is None:
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        params = reset_params(self.env, self.params, options)
        keys = np.array([_draw_seed(r) for r in self._rngs], np.int32)
        obs, self.state, info = self._fns.batch_reset(keys, params)
        self._autoreset = np.zeros(self.num_envs, bool)
        return _to_numpy(obs), _vector_info(info)

    def step(self, actions):
        actions = np.asarray(actions)
        integral = actions.dtype.kind in "iu"  # floats and bools are rejected, as by the single env
        if not integral or actions.shape != (self.num_envs,) or not self.action_space.contains(actions.astype(np.int64)):
            raise ValueError(f"actions {actions!r} are not in the action space {self.action_space}")
        if self.state is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        keys = np.zeros(self.num_envs, np.int32)
        for i in np.flatnonzero(self._autoreset):
            keys[i] = _draw_seed(self._rngs[i])
        obs, self.state, rewards, terminations, truncations, info = self._fns.batch_reset_or_step(
            keys, self._autoreset, self.state, actions.astype(np.int32), self.params
        )
        terminations = np.asarray(terminations)
        truncations = np.asarray(truncations)
        _note_invalid(self._action_counts, np.asarray(info["invalid_action"])[~self._autoreset])
        self._autoreset = terminations | truncations
        return _to_numpy(obs), np.asarray(rewards), terminations, truncations, _vector_info(info)

    def action_masks(self) -> np.ndarray:
        """bool[num_envs, A]: the legal actions of every copy."""
        return np.array(self._fns.batch_mask(self.state), dtype=bool)

    def render(self):
        """Copy 0's state as text ("ansi") or an RGB picture ("rgb_array"); None without a render mode."""
        if self.render_mode is None:
            return None
        if self.state is None:
            raise gymnasium.error.ResetNeeded("call reset() before render()")
        state = jax.device_get(jax.tree.map(lambda x: x[0], self.state))
        return _render.ansi(state) if self.render_mode == "ansi" else _render.rgb_array(state)


def _to_numpy(tree):
    """Writable numpy copies (torch-based learners refuse read-only arrays)."""
    return jax.tree.map(np.array, jax.device_get(tree))


def _to_python(info) -> dict[str, Any]:
    return {k: np.asarray(v).item() for k, v in jax.device_get(info).items()}


def _vector_info(info) -> dict[str, np.ndarray]:
    out = {}
    for k, v in jax.device_get(info).items():
        v = np.asarray(v)
        out[k] = v
        out["_" + k] = np.ones(v.shape, bool)
    return out


# ----- factories used by `gymnasium.make` / `make_vec` --------------------------
def _build(env_id: str, kwargs: dict[str, Any]) -> tuple[Any, str | None]:
    _check_not_forked()
    render_mode = kwargs.pop("render_mode", None)
    env, _ = make(env_id, **kwargs)
    return env, render_mode


def make_do1(**kwargs: Any) -> CircuitGymEnv:
    """Entry point of `do1rl/DO1-v0` (keywords: see `do1rl.envs.make`)."""
    env, render_mode = _build(DO1_ID, kwargs)
    return CircuitGymEnv(env, render_mode=render_mode)


def make_alternating(**kwargs: Any) -> CircuitGymEnv:
    """Entry point of `do1rl/AlternatingCircuit-v0`."""
    env, render_mode = _build(ALTERNATING_ID, kwargs)
    return CircuitGymEnv(env, render_mode=render_mode)


def make_do1_vector(num_envs: int = 1, **kwargs: Any) -> CircuitVectorEnv:
    """Vector entry point of `do1rl/DO1-v0`."""
    env, render_mode = _build(DO1_ID, kwargs)
    return CircuitVectorEnv(env, num_envs, render_mode=render_mode)


def make_alternating_vector(num_envs: int = 1, **kwargs: Any) -> CircuitVectorEnv:
    """Vector entry point of `do1rl/AlternatingCircuit-v0`."""
    env, render_mode = _build(ALTERNATING_ID, kwargs)
    return CircuitVectorEnv(env, num_envs, render_mode=render_mode)
