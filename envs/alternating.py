"""`AlternatingCircuit`: the DO1 game on one circuit configuration (C, x)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from do1rl.core import solver
from do1rl.core.checks import check_flag
from do1rl.core.generators import Generator, RandomAlternating
from do1rl.envs.core import CircuitEnvBase, check_max_selections, generator_shape
from do1rl.envs.types import MAIN, EnvParams, EnvState, Observation


class AlternatingCircuit(CircuitEnvBase):
    """Pick gates of an alternating circuit that all output 1, as deep as possible.

    An instance (C, x) is drawn from `params.generator` at reset; the solver
    evaluates it once and the gate values stay hidden.

    - observation: `Observation` (a NamedTuple) with
        - node_type: int8[N], PAD=0, INPUT_0=1, INPUT_1=2, AND=3, OR=4 (the
          input bits x are visible through INPUT_0 / INPUT_1).
        - fanin: int32[N, F], node indices each gate reads, -1 pads.
        - depth: int32[N], node depths (0 for inputs and padding).
        - circuit_id: int8[N], all 0 (the main circuit).
        - selected: bool[N], the gates chosen so far.
        - action_mask: bool[A], the legal actions.
        - steps_left: int32[], actions left before the episode ends.
      N = `generator`'s node slots, F its fan-in slots.
    - action: int in [0, A), A = N + 1 (+1 with `stop_action`):
        `0..N-1` select that node (legal for gates not yet selected),
        `N` no-op (always legal), `N + 1` STOP (only with `stop_action=True`).
      An illegal action (masked, or out of range) is a no-op: time advances
      and `info["invalid_action"]` is True.
    - reward: 0 on every step but the last; on the last, the largest depth
      among the selected gates if every selected gate outputs 1, else 0
      (0 if none is selected). Its optimum is V*(s0) = d1(C, x).
    - termination: after exactly H = |C| actions (|C| = number of gates), or
      at once on STOP, or (with `max_selections=m`) at once when the m-th gate
      is selected. `max_selections=1` is the one-shot game: the episode ends at
      the first selection or STOP, so the agent has no scratchpad and its
      serial compute per episode equals that per decision. The horizon is part of the MDP, so `truncated` is
      always False. `step` on a terminated state returns it unchanged with
      reward 0; there is no auto-reset (use `wrappers.AutoReset`).
    """

    def __init__(self, generator: Generator | None = None, stop_action: bool = False, max_selections: int | None = None):
        self.generator = RandomAlternating() if generator is None else generator
        self.stop_action = check_flag(stop_action, "stop_action")
        self.max_selections = check_max_selections(max_selections)
        self.num_nodes, self.fanin_slots = generator_shape(self.generator)
        self.max_depth = int(self.generator.max_depth)
        self.max_horizon = int(self.generator.max_gates)

    def __repr__(self) -> str:
        return f"AlternatingCircuit(generator={self.generator!r}, stop_action={self.stop_action}, max_selections={self.max_selections})"

    @property
    def default_params(self) -> EnvParams:
        """The params of the generator and options the env was built with (a gymnax-style property)."""
        return EnvParams(generator=self.generator, chain_length=jnp.int32(0), max_steps_in_episode=self.max_horizon)

    def reset(self, key: jax.Array, params: EnvParams | None = None) -> tuple[Observation, EnvState]:
        """Draws (C, x), solves it, and returns the first observation and state."""
        params = self.default_params if params is None else params
        circuit = params.generator(key)
        solution = solver.solve(circuit)
        num_gates = circuit.num_gates.astype(jnp.int32)
        n = self.num_nodes
        state = EnvState(
            node_type=circuit.node_type.astype(jnp.int8),
            fanin=circuit.fanin.astype(jnp.int32),
            depth=circuit.depth.astype(jnp.int32),
            circuit_id=jnp.full((n,), MAIN, jnp.int8),
            value=solution.value,
            selected=jnp.zeros((n,), bool),
            chosen=jnp.int32(MAIN),
            steps_left=num_gates,
            terminated=num_gates <= 0,
            optimal_return=jnp.int32(0),
            circuit_depth=circuit.circuit_depth.astype(jnp.int32),
            num_gates=num_gates,
            chain_length=jnp.int32(0),
            horizon=num_gates,
            cert_depth=solution.cert_d1,
        )
        return self._finish_reset(state)
