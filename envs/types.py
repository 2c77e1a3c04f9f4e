"""State and parameter pytrees shared by `AlternatingCircuit` and `DO1`.

Shapes: N = node slots shown to the agent (for DO1: the main circuit's N_C
slots, then the chain's K + 1 slots), F = fan-in slots per node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

# `EnvState.circuit_id` / `EnvState.chosen` values.
MAIN = 0  # the main circuit C
CHAIN = 1  # DO1's chain
NOT_CHOSEN = -1  # DO1 before the forced choice


@struct.dataclass
class EnvState:
    """The full (partly hidden) state of one episode.

    Everything except `value`, `optimal_return`, `cert_depth` and the
    `circuit_depth`/`num_gates` summaries is also in the observation; `value`
    (the gate values) and `cert_depth` are never observed.
    """

    node_type: jax.Array  # int8[N]: PAD, INPUT_0, INPUT_1, AND, OR (do1rl.core.circuit)
    fanin: jax.Array  # int32[N, F]: global node indices read by each gate, -1 pads
    depth: jax.Array  # int32[N]: depth within its own circuit (0 for inputs/padding)
    circuit_id: jax.Array  # int8[N]: MAIN (0) for C's slots, CHAIN (1) for the chain's
    value: jax.Array  # bool[N]: hidden node values from the solver, fixed at reset
    selected: jax.Array  # bool[N]: the chosen gates S
    chosen: jax.Array  # int32[]: NOT_CHOSEN (-1) before DO1's forced choice, else MAIN/CHAIN
    steps_left: jax.Array  # int32[]: tau, actions left before the episode ends
    terminated: jax.Array  # bool[]: the episode has ended
    optimal_return: jax.Array  # int32[]: V*(s0) from the solver at reset
    circuit_depth: jax.Array  # int32[]: depth of the main circuit C (its deepest gate)
    num_gates: jax.Array  # int32[]: |C|, the number of gates of C
    chain_length: jax.Array  # int32[]: k for DO1, 0 for AlternatingCircuit
    horizon: jax.Array  # int32[]: H, the episode length
    cert_depth: jax.Array  # int32[]: cert(d1) of the main circuit C (hidden; docs/hard-instances.md)


@struct.dataclass
class EnvParams:
    """Where instances come from.

    Attributes:
      generator: a generator pytree (`RandomAlternating`, `CircuitPool`, ...)
        whose circuits have the shape the environment was built for.
      chain_length: int32[] (DO1 only; ignored by AlternatingCircuit): k >= 1
        fixed (clipped to the env's static maximum K), or 0 for k drawn
        uniformly from {1, ..., K}.
      max_steps_in_episode: a static bound on the episode length (gymnax's
        name; the env's `max_horizon` in `default_params`, 0 = unset). Episodes
        end by their own horizon H <= this bound, never by truncation.
    """

    generator: Any
    chain_length: jax.Array = struct.field(default_factory=lambda: jnp.int32(0))
    max_steps_in_episode: int = struct.field(pytree_node=False, default=0)


class Observation(NamedTuple):
    """What the agent sees: everything but the gate values (N nodes, F fan-in slots, A actions)."""

    node_type: jax.Array  # int8[N]: PAD, INPUT_0, INPUT_1, AND, OR
    fanin: jax.Array  # int32[N, F]: node indices read by each gate, -1 pads
    depth: jax.Array  # int32[N]: depth within its own circuit
    circuit_id: jax.Array  # int8[N]: MAIN (0) or CHAIN (1)
    selected: jax.Array  # bool[N]: the chosen gates
    action_mask: jax.Array  # bool[A]: the legal actions
    steps_left: jax.Array  # int32[]: actions left before the episode ends


# A policy plays ONE episode: `policy(key, obs, state) -> action`, an int32[] action index; evaluators
# vmap it. `state` is the env's full state, which only oracles read (do1rl.agents.baselines).
Policy = Callable[[jax.Array, Observation, EnvState], jax.Array]
