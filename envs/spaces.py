"""Minimal jittable spaces with the gymnax interface (`sample(key)`, `contains(x)`).

The functional envs return these from `action_space(params)` and
`observation_space(params)` so they need no gymnax; `do1rl.envs.gymnax`
converts them to gymnax's own classes for libraries that check `isinstance`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Box", "Dict", "Discrete"]


class Discrete:
    """Integers 0..n-1 (gymnax `spaces.Discrete`)."""

    def __init__(self, n: int, dtype: Any = jnp.int32):
        self.n = int(n)
        self.shape: tuple[int, ...] = ()
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"Discrete({self.n})"

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.randint(key, (), 0, self.n).astype(self.dtype)

    def contains(self, x: Any) -> jax.Array:
        return (x >= 0) & (x < self.n)


class Box:
    """Arrays of `shape` with elements in [low, high] (gymnax `spaces.Box`)."""

    def __init__(self, low: Any, high: Any, shape: tuple[int, ...], dtype: Any = jnp.float32):
        self.low = np.broadcast_to(np.asarray(low, dtype), shape)
        self.high = np.broadcast_to(np.asarray(high, dtype), shape)
        self.shape = tuple(shape)
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"Box(shape={self.shape}, dtype={np.dtype(self.dtype).name})"

    def sample(self, key: jax.Array) -> jax.Array:
        if jnp.issubdtype(self.dtype, jnp.integer) or self.dtype in (bool, jnp.bool_):
            x = jax.random.randint(key, self.shape, self.low.astype(np.int32), self.high.astype(np.int32) + 1)
            return x.astype(self.dtype)
        return jax.random.uniform(key, self.shape, self.dtype, self.low, self.high)

    def contains(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        return (x.shape == self.shape) & jnp.all(x >= self.low) & jnp.all(x <= self.high)


class Dict:
    """A dict of spaces (gymnax `spaces.Dict`)."""

    def __init__(self, spaces: dict[str, Any]):
        self.spaces = dict(spaces)
        self.num_spaces = len(self.spaces)

    def __repr__(self) -> str:
        return "Dict(" + ", ".join(f"{k}: {v!r}" for k, v in self.spaces.items()) + ")"

    def sample(self, key: jax.Array) -> dict[str, jax.Array]:
        keys = jax.random.split(key, self.num_spaces)
        return {k: space.sample(kk) for (k, space), kk in zip(self.spaces.items(), keys)}

    def contains(self, x: Any) -> jax.Array:
        items = x._asdict() if hasattr(x, "_asdict") else x
        out = jnp.bool_(True)
        for k, space in self.spaces.items():
            out = out & space.contains(items[k])
        return out
