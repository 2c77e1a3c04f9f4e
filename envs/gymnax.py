"""`GymnaxAdapter`: a do1rl env with gymnax's step contract, auto-reset included.

gymnax's own wrappers (`LogWrapper`, `FlattenObservationWrapper`), rejax and
purejaxrl-style loops expect `step` to reset an episode in the call that ends
it, observations to be arrays, and `action_space(params)` /
`observation_space(params)` to be gymnax space objects. gymnax itself is
imported lazily, only when its spaces are asked for; the step runs without it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from do1rl.envs import spaces
from do1rl.envs.types import EnvParams, EnvState, Observation

__all__ = ["GymnaxAdapter", "flatten_observation"]


def flatten_observation(obs: Observation) -> jax.Array:
    """float32[D]: every `Observation` entry flattened and concatenated in field order."""
    return jnp.concatenate([jnp.ravel(x).astype(jnp.float32) for x in obs])


def _major_minor(package: str) -> tuple[int, int] | None:
    """(major, minor) of an installed package's version, None if it is not installed or unreadable."""
    try:
        from importlib.metadata import version

        major, minor = version(package).split(".")[:2]
        return int(major), int(minor)
    except Exception:
        return None


def _installed_gymnax_is_legacy() -> bool:
    """True when the installed gymnax (< 1.0) steps with the 5-tuple contract (no gymnax: the current one)."""
    found = _major_minor("gymnax")
    return found is not None and found < (1, 0)


def _installed_rejax_is_legacy() -> bool:
    """True when rejax unpacks the 5-tuple step: rejax <= 0.1 (what PyPI has) or none installed."""
    found = _major_minor("rejax")
    return found is None or found <= (0, 1) or _installed_gymnax_is_legacy()


class GymnaxAdapter:
    """Wraps `DO1` / `AlternatingCircuit` as a gymnax `Environment` would behave.

    Args:
      env: a functional do1rl env (from `do1rl.envs.make`).
      flatten: observations as one float32 vector (`flatten_observation`,
        what rejax and gymnax's `FlattenObservationWrapper` need); False keeps
        the `Observation` NamedTuple (for masked policies: `obs.action_mask`).
      legacy_step: the step contract. False: gymnax >= 1.0, `(obs, state,
        reward, terminated, truncated, info)`; True: gymnax 0.0.x, purejaxrl
        and rejax 0.1.3, `(obs, state, reward, done, info)`. None (default):
        that of the installed gymnax, or gymnax >= 1.0 if none is installed.
        For rejax use `GymnaxAdapter.for_rejax(env)`, which picks rejax's.

    `step` auto-resets: when an episode ends, the returned obs and state are
    those of a new episode (drawn with a key split from `key`), while reward,
    done flags and info describe the finished transition; info carries
    gymnax's `terminated`, `truncated` and `final_observation`, and do1rl's
    `invalid_action`, `optimal_return`, `circuit_depth`, `horizon`.
    `action_mask(state)` and everything else are forwarded to `env`.
    """

    def __init__(self, env: Any, flatten: bool = True, legacy_step: bool | None = None):
        self._env = env
        self.flatten = bool(flatten)
        self.legacy_step = _installed_gymnax_is_legacy() if legacy_step is None else bool(legacy_step)

    @classmethod
    def for_rejax(cls, env: Any, flatten: bool = True) -> GymnaxAdapter:
        """The adapter in the step contract of the installed rejax, for `rejax.<Algorithm>.create(env=...)`.

        rejax 0.1.x unpacks gymnax 0.0.x's 5-tuple whichever gymnax is
        installed, so the default (the installed gymnax's contract) would
        fail inside rejax with "too many values to unpack (expected 5)".
        """
        return cls(env, flatten=flatten, legacy_step=_installed_rejax_is_legacy())

    def __getattr__(self, name: str) -> Any:
        if name == "_env":  # not set yet (e.g. during unpickling): avoid recursing
            raise AttributeError(name)
        return getattr(self._env, name)

    def __repr__(self) -> str:
        return f"GymnaxAdapter({self._env!r}, flatten={self.flatten}, legacy_step={self.legacy_step})"

    @property
    def default_params(self) -> EnvParams:
        return self._env.default_params

    @property
    def name(self) -> str:
        return self._env.name

    @property
    def num_actions(self) -> int:
        return self._env.num_actions

    def _observe(self, obs: Observation) -> Any:
        return flatten_observation(obs) if self.flatten else obs

    def reset(self, key: jax.Array, params: EnvParams | None = None) -> tuple[Any, EnvState]:
        params = self.default_params if params is None else params
        obs, state = self._env.reset(key, params)
        return self._observe(obs), state

    def step(self, key: jax.Array, state: EnvState, action: Any, params: EnvParams | None = None) -> tuple:
        params = self.default_params if params is None else params
        key_step, key_reset = jax.random.split(key)
        obs_st, state_st, reward, terminated, truncated, info = self._env.step(key_step, state, action, params)
        obs_re, state_re = self._env.reset(key_reset, params)
        done = terminated | truncated
        pick = lambda fresh, cont: jax.lax.select(done, fresh, cont)
        state = jax.tree.map(pick, state_re, state_st)
        obs = jax.tree.map(pick, obs_re, obs_st)
        info = {**info, "terminated": terminated, "truncated": truncated, "final_observation": self._observe(obs_st)}
        if self.legacy_step:
            return self._observe(obs), state, reward, done, info
        return self._observe(obs), state, reward, terminated, truncated, info

    # ----- gymnax spaces ---------------------------------------------------------
    def action_space(self, params: EnvParams | None = None) -> Any:
        from gymnax.environments import spaces as gymnax_spaces

        return gymnax_spaces.Discrete(self._env.num_actions)

    def observation_space(self, params: EnvParams | None = None) -> Any:
        from gymnax.environments import spaces as gymnax_spaces

        inner = self._env.observation_space(params)
        if self.flatten:
            low = np.concatenate([np.ravel(s.low) for s in inner.spaces.values()]).astype(np.float32)
            high = np.concatenate([np.ravel(s.high) for s in inner.spaces.values()]).astype(np.float32)
            return gymnax_spaces.Box(low, high, low.shape, jnp.float32)
        return gymnax_spaces.Dict({k: _to_gymnax_box(gymnax_spaces, s) for k, s in inner.spaces.items()})


def _to_gymnax_box(gymnax_spaces: Any, box: spaces.Box) -> Any:
    return gymnax_spaces.Box(box.low, box.high, box.shape, box.dtype)
