"""Random values from one draw of random words.

A generator draws every word it needs with one `jax.random.bits` call
(`draw`) and turns slices of it into values with the rules of
`jax.random.uniform`, `bernoulli`, `randint` and `permutation`, so each value
has exactly the distribution the `jax.random` function would give it
(tests/test_generators.py checks the rules bitwise against jax's).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

# Words behind one value of `randint`: a high and a low 32-bit word, as jax.random.randint draws them.
RANDINT_WORDS = 2


def permutation_rounds(size: int) -> int:
    """Sorts by fresh 32-bit keys that `jax.random.permutation` uses for `size` elements."""
    return int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))


def draw(key: jax.Array, shapes: dict[str, tuple[int, ...]]) -> dict[str, jax.Array]:
    """uint32 words of each named shape, all from one `jax.random.bits` call."""
    sizes = [math.prod(shape) for shape in shapes.values()]
    words = jax.random.bits(key, (sum(sizes),), jnp.uint32)
    out, start = {}, 0
    for (name, shape), size in zip(shapes.items(), sizes, strict=True):
        out[name] = words[start : start + size].reshape(shape)
        start += size
    return out


def uniform(words: jax.Array) -> jax.Array:
    """float32 in [0, 1) from one word each (`jax.random.uniform`'s rule: the top 23 bits)."""
    mantissa = jax.lax.shift_right_logical(words, jnp.uint32(32 - 23)) | jnp.uint32(0x3F800000)
    return jax.lax.bitcast_convert_type(mantissa, jnp.float32) - jnp.float32(1.0)


def bernoulli(words: jax.Array, p) -> jax.Array:
    """bool, True with probability `p`, from one word each (`jax.random.bernoulli`'s rule)."""
    return uniform(words) < jnp.asarray(p, jnp.float32)


def randint(words: jax.Array, span) -> jax.Array:
    """int32 in [0, span) from the `RANDINT_WORDS` words on the last axis (`jax.random.randint`'s rule)."""
    high, low = words[..., 0], words[..., 1]
    span = jnp.maximum(jnp.asarray(span, jnp.int32), 1).astype(jnp.uint32)
    multiplier = jax.lax.rem(jnp.uint32(2**16), span)
    multiplier = jax.lax.rem(multiplier * multiplier, span)  # 2**32 mod span
    offset = jax.lax.rem(high, span) * multiplier + jax.lax.rem(low, span)
    return jax.lax.rem(offset, span).astype(jnp.int32)


def draw_randint(key: jax.Array, span) -> jax.Array:
    """One int32 in [0, span) from one `jax.random.bits` call."""
    return randint(jax.random.bits(key, (RANDINT_WORDS,), jnp.uint32), span)


def permutations(words: jax.Array) -> jax.Array:
    """int32 permutations of range(n), one per row of `words` [..., rounds, n] (`jax.random.permutation`'s rule)."""
    n = words.shape[-1]
    x = jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32), words.shape[:-2] + (n,))
    for r in range(words.shape[-2]):
        _, x = jax.lax.sort_key_val(words[..., r, :], x, dimension=-1)
    return x
