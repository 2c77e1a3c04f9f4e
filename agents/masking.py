"""The masked categorical policy shared by every agent: one masking constant, one rule."""

from __future__ import annotations

import jax
import jax.numpy as jnp

# The logit of an illegal action: probability exactly 0 under softmax and sampling.
MASKED_LOGIT = float(jnp.finfo(jnp.float32).min)


def masked_logits(logits: jax.Array, mask: jax.Array) -> jax.Array:
    """Logits with illegal actions (`mask` False) set to `MASKED_LOGIT`."""
    return jnp.where(mask.astype(bool), logits, MASKED_LOGIT)


def log_probs(logits: jax.Array, mask: jax.Array) -> jax.Array:
    """Log-probabilities of the masked categorical policy, [..., A]."""
    return jax.nn.log_softmax(masked_logits(logits, mask), axis=-1)


def entropy(logits: jax.Array, mask: jax.Array) -> jax.Array:
    """Entropy of the masked categorical policy (masked actions contribute 0)."""
    logp = log_probs(logits, mask)
    p = jnp.exp(logp)
    return -jnp.sum(jnp.where(mask.astype(bool), p * logp, 0.0), axis=-1)
