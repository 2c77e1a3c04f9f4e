"""Loss terms shared by the learners (PPO, expert iteration)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from do1rl.envs.types import Observation

__all__ = ["AUX_TARGETS", "hint_loss", "node_value_loss"]

AUX_TARGETS = ("final", "hint")


def node_value_loss(
    rows: jax.Array,
    labels: jax.Array,
    depth: jax.Array,
    real: jax.Array,
    iterations: jax.Array,
    target: str,
    first_row: jax.Array | None = None,
) -> jax.Array:
    """Mean negative log-likelihood of the nodes' true values under a network's decoded rows.

    Args:
      rows: float[B, R, N, 2], log P(value = 0), log P(value = 1) after each
        of R iterations (or blocks); row r follows r + 1 of them.
      labels: bool[B, N], the solver's node values (training-only).
      depth, real: int[B, N] node depths and bool[B, N] non-padding nodes.
      iterations: int[B], how many rows are live (T; rows past it repeat).
      target: "final" scores row T - 1 on every node; "hint" scores row r on
        the nodes of depth <= r + 1, for every live row (CLRS-style hints).
      first_row: int[B] or None: rows before it are not scored (progressive training).
    """
    nll = -jnp.where(labels[:, None, :], rows[..., 1], rows[..., 0])  # [B, R, N]
    r = jnp.arange(rows.shape[1])[None, :]
    live = r < iterations[:, None]
    if first_row is not None:
        live = live & (r >= first_row[:, None])
    if target == "final":
        live = live & (r == jnp.clip(iterations - 1, 0, rows.shape[1] - 1)[:, None])
        weight = live[:, :, None] & real[:, None, :]
    else:
        weight = live[:, :, None] & (depth[:, None, :] <= r[:, :, None] + 1) & real[:, None, :]
    weight = weight.astype(nll.dtype)
    return jnp.sum(nll * weight) / jnp.maximum(jnp.sum(weight), 1.0)


def hint_loss(rows: jax.Array, labels: jax.Array, obs: Observation, iterations: jax.Array | None, target: str):
    """`node_value_loss` of a batch of observations: `iterations` int[B] live rows (a recurrent net's T), None: all R."""
    if iterations is None:
        iterations = jnp.full(obs.depth.shape[:-1], rows.shape[-3], jnp.int32)
    return node_value_loss(rows, labels, obs.depth, obs.node_type != 0, iterations, target)
