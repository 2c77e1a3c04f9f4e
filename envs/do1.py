"""`DO1`: the environment of Appendix G.1 (circuit C versus a chain of length k)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from do1rl.core import generators, solver
from do1rl.core.checks import check_flag
from do1rl.core.circuit import PAD
from do1rl.core.generators import Generator
from do1rl.envs.core import CircuitEnvBase, check_max_selections, generator_shape
from do1rl.envs.types import CHAIN, MAIN, NOT_CHOSEN, EnvParams, EnvState, Observation

# How a random chain length k is drawn: up to K, or up to the instance's own circuit depth.
CHAIN_SCALES = ("max", "circuit")


class DO1(CircuitEnvBase):
    """Choose between an alternating circuit (C, x) and a chain of length k.

    An instance is (C, x) drawn from `params.generator` plus a chain of k gates
    OR -> AND -> ... reading an input with bit 1 (every chain gate outputs 1,
    gate i has depth i). With `chain_length=None` (the default) k is drawn
    uniformly from {1, ..., K} with K = `generator.max_depth`, so k is on the
    scale of d1(C, x) and the forced choice matters (`chain_scale="circuit"`
    draws it from {1, ..., d(C)} instead, the instance's own circuit depth,
    for generators padded beyond their circuits' depth); with `chain_length=k`
    it is fixed and K = k. The solver evaluates C once at reset; gate values
    stay hidden.

    Node slots: C's N_C slots first (circuit_id 0), then the chain's K + 1
    slots (circuit_id 1; its input, its k gates, then padding), so
    N = N_C + K + 1. Chain fan-ins are global indices (offset by N_C).

    - observation: `Observation` (a NamedTuple) with
        - node_type: int8[N], PAD=0, INPUT_0=1, INPUT_1=2, AND=3, OR=4.
        - fanin: int32[N, F], global node indices each gate reads, -1 pads.
        - depth: int32[N], depth within the node's own circuit.
        - circuit_id: int8[N], 0 for C's slots, 1 for the chain's.
        - selected: bool[N], the gates chosen so far.
        - action_mask: bool[A], the legal actions.
        - steps_left: int32[], actions left before the episode ends.
    - action: int in [0, A), A = N + 1 (+1 with `stop_action`):
        `0..N-1` select that node, `N` no-op, `N + 1` STOP (if enabled).
        At t = 0 the agent must select a gate of C or of the chain (no no-op,
        no STOP): that forced choice removes the other circuit, whose gates
        can no longer be selected. Afterwards each step selects at most one
        more unselected gate of the chosen circuit, or is a no-op, or STOP.
      An illegal action (masked, or out of range) is a no-op: time advances,
      `info["invalid_action"]` is True, and before the forced choice the
      choice stays open (no-op stays illegal until a gate is selected).
    - reward: 0 on every step but the last; on the last, the largest depth
      among the selected gates if every selected gate outputs 1, else 0
      (0 if none is selected). Its optimum is V*(s0) = max(d1(C, x), k).
    - termination: after exactly H = max(k, |C|) actions (|C| = number of
      gates of C), or at once on STOP, or (with `max_selections=m`) at once
      when the m-th gate is selected. `max_selections=1` is the one-shot game:
      the forced choice is the only decision (its gate's depth is the reward
      if it outputs 1), so the agent has no scratchpad. The horizon is part of the MDP, so
      `truncated` is always False. `step` on a terminated state returns it
      unchanged with reward 0; there is no auto-reset (`wrappers.AutoReset`).
    """

    def __init__(
        self,
        generator: Generator | None = None,
        stop_action: bool = False,
        chain_length: int | None = None,
        chain_scale: str = "max",
        max_selections: int | None = None,
    ):
        self.generator = generators.RandomAlternating() if generator is None else generator
        self.stop_action = check_flag(stop_action, "stop_action")
        self.max_selections = check_max_selections(max_selections)
        if chain_length is not None and int(chain_length) < 0:
            raise ValueError(f"chain_length must be None, 0 (random) or >= 1, got {chain_length}")
        self.chain_length = None if not chain_length else int(chain_length)
        if chain_scale not in CHAIN_SCALES:
            raise ValueError(f"chain_scale must be one of {', '.join(CHAIN_SCALES)}, got {chain_scale!r}")
        self.chain_scale = chain_scale
        self.main_nodes, main_fanin = generator_shape(self.generator)
        gen_depth = int(self.generator.max_depth)
        gen_gates = int(self.generator.max_gates)
        self.max_chain_length = self.chain_length or max(gen_depth, 1)
        self.num_nodes = self.main_nodes + self.max_chain_length + 1
        self.fanin_slots = max(main_fanin, 1)
        self.max_depth = max(gen_depth, self.max_chain_length)
        self.max_horizon = max(gen_gates, self.max_chain_length)

    def __repr__(self) -> str:
        return (
            f"DO1(generator={self.generator!r}, stop_action={self.stop_action}, "
            f"chain_length={self.chain_length}, chain_scale={self.chain_scale!r}, max_selections={self.max_selections})"
        )

    @property
    def default_params(self) -> EnvParams:
        """The params of the generator and options the env was built with (a gymnax-style property)."""
        return EnvParams(generator=self.generator, chain_length=jnp.int32(self.chain_length or 0), max_steps_in_episode=self.max_horizon)

    def _chain_upper(self, circuit) -> jax.Array | int:
        """The largest random k: K, or with `chain_scale="circuit"` this instance's circuit depth."""
        if self.chain_scale == "circuit":
            return jnp.clip(circuit.circuit_depth, 1, self.max_chain_length)
        return self.max_chain_length

    def reset(self, key: jax.Array, params: EnvParams | None = None) -> tuple[Observation, EnvState]:
        """Draws (C, x) and k, solves C, and returns the first observation and state."""
        params = self.default_params if params is None else params
        key_circuit, key_chain = jax.random.split(key)
        circuit = params.generator(key_circuit)
        solution = solver.solve(circuit)
        big_k = self.max_chain_length
        fixed = jnp.asarray(params.chain_length, jnp.int32)
        k = jnp.where(
            fixed >= 1,
            jnp.clip(fixed, 1, big_k),
            jax.random.randint(key_chain, (), 1, self._chain_upper(circuit) + 1),
        ).astype(jnp.int32)
        ch = generators.chain(k, big_k)

        n_c, f = self.main_nodes, self.fanin_slots
        pad_cols = lambda x: jnp.pad(x, ((0, 0), (0, f - x.shape[1])), constant_values=-1)
        chain_fanin = jnp.where(ch.fanin >= 0, ch.fanin + n_c, -1)
        num_gates = circuit.num_gates.astype(jnp.int32)
        horizon = jnp.maximum(k, num_gates)
        state = EnvState(
            node_type=jnp.concatenate([circuit.node_type, ch.node_type]).astype(jnp.int8),
            fanin=jnp.concatenate([pad_cols(circuit.fanin), pad_cols(chain_fanin)]).astype(jnp.int32),
            depth=jnp.concatenate([circuit.depth, ch.depth]).astype(jnp.int32),
            circuit_id=jnp.concatenate([jnp.full((n_c,), MAIN, jnp.int8), jnp.full((big_k + 1,), CHAIN, jnp.int8)]),
            value=jnp.concatenate([solution.value, ch.node_type != PAD]),
            selected=jnp.zeros((self.num_nodes,), bool),
            chosen=jnp.int32(NOT_CHOSEN),
            steps_left=horizon,
            terminated=jnp.bool_(False),
            optimal_return=jnp.int32(0),
            circuit_depth=circuit.circuit_depth.astype(jnp.int32),
            num_gates=num_gates,
            chain_length=k,
            horizon=horizon,
            cert_depth=solution.cert_d1,
        )
        return self._finish_reset(state)
