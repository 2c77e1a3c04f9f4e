"""Action masking shared by every agent: one constant, one rule."""

from __future__ import annotations

import jax
import jax.numpy as jnp

# The logit of an illegal action: probability exactly 0 under softmax and sampling.
MASKED_LOGIT = float(jnp.finfo(jnp.float32).min)


def masked_logits(logits: jax.Array, mask: jax.Array) -> jax.Array:
    """Logits with illegal actions (`mask` False) set to `MASKED_LOGIT`."""
    return jnp.where(mask.astype(bool), logits, MASKED_LOGIT)
