"""The game both environments share: masks, transitions, rewards, V*(s).

`CircuitEnvBase` holds the static sizes and everything that does not depend
on how an episode's nodes are laid out; `AlternatingCircuit` and `DO1` only
differ in `reset`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from do1rl.core import solver
from do1rl.core.circuit import AND, OR
from do1rl.envs import spaces
from do1rl.envs.types import NOT_CHOSEN, EnvParams, EnvState, Observation


def check_max_selections(max_selections: int | None) -> int | None:
    """None (no limit) or an int >= 1; ValueError otherwise."""
    if max_selections is None:
        return None
    if isinstance(max_selections, bool) or int(max_selections) != max_selections or max_selections < 1:
        raise ValueError(f"max_selections must be None or an integer >= 1, got {max_selections!r}")
    return int(max_selections)


def generator_shape(generator: Any) -> tuple[int, int]:
    """(num_nodes, fanin_slots) of the circuits a generator makes."""
    out = jax.eval_shape(generator, jax.random.key(0))
    return int(out.node_type.shape[-1]), int(out.fanin.shape[-1])


class CircuitEnvBase:
    """Shared functional API. Subclasses set the sizes and implement `reset`.

    Static attributes (set by subclasses): `num_nodes` (N), `fanin_slots` (F),
    `stop_action`, `max_selections` (None, or the one-shot limit: the episode
    ends once that many gates are selected), `max_depth` (bound on any node
    depth), `max_horizon` (bound on H).
    """

    num_nodes: int
    fanin_slots: int
    stop_action: bool
    max_selections: int | None = None
    max_depth: int
    max_horizon: int
    generator: Any
    # Episodes end only by termination (the horizon is observed), so training
    # loops need no bootstrap from truncated episodes.
    can_truncate: bool = False

    # ----- sizes and action numbering -------------------------------------
    @property
    def num_actions(self) -> int:
        """A = N + 1 (+1 with STOP): `0..N-1` select node, `N` no-op, `N+1` STOP."""
        return self.num_nodes + 1 + int(self.stop_action)

    @property
    def noop_action(self) -> int:
        return self.num_nodes

    @property
    def stop_action_id(self) -> int | None:
        """The STOP action's index, or None when the env has no STOP action."""
        return self.num_nodes + 1 if self.stop_action else None

    @property
    def name(self) -> str:
        """The registered id (`make(env.name)` builds this kind of env)."""
        return f"do1rl/{type(self).__name__}-v0"

    def action_space(self, params: EnvParams | None = None) -> spaces.Discrete:
        """gymnax-style action space: `Discrete(num_actions)`."""
        del params
        return spaces.Discrete(self.num_actions)

    def observation_space(self, params: EnvParams | None = None) -> spaces.Dict:
        """gymnax-style observation space with the true bounds of every `Observation` entry."""
        del params
        n = self.num_nodes
        high = {
            "node_type": OR,
            "fanin": n - 1,
            "depth": self.max_depth,
            "circuit_id": 1,
            "selected": 1,
            "action_mask": 1,
            "steps_left": self.max_horizon,
        }
        low = {"fanin": -1}
        return spaces.Dict(
            {key: spaces.Box(low.get(key, 0), high[key], shape, dtype) for key, (shape, dtype) in self.observation_shapes().items()}
        )

    def observation_shapes(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Shape and dtype of every observation entry."""
        n, f = self.num_nodes, self.fanin_slots
        return {
            "node_type": ((n,), np.dtype(np.int8)),
            "fanin": ((n, f), np.dtype(np.int32)),
            "depth": ((n,), np.dtype(np.int32)),
            "circuit_id": ((n,), np.dtype(np.int8)),
            "selected": ((n,), np.dtype(np.bool_)),
            "action_mask": ((self.num_actions,), np.dtype(np.bool_)),
            "steps_left": ((), np.dtype(np.int32)),
        }

    @property
    def default_params(self) -> EnvParams:
        """The params of the generator and options the env was built with (a gymnax-style property)."""
        raise NotImplementedError

    def reset(self, key: jax.Array, params: EnvParams | None = None) -> tuple[Observation, EnvState]:
        raise NotImplementedError

    # ----- masks ---------------------------------------------------------------
    def selectable_region(self, state: EnvState) -> jax.Array:
        """bool[N]: gates of the circuit(s) still open (Z, or both before the choice)."""
        is_gate = (state.node_type == AND) | (state.node_type == OR)
        open_circuit = (state.chosen == NOT_CHOSEN) | (state.circuit_id == state.chosen)
        return is_gate & open_circuit

    def action_mask(self, state: EnvState) -> jax.Array:
        """bool[A]: the legal actions.

        Gates of an open circuit not yet chosen; the no-op except before DO1's
        forced choice; STOP (if enabled) once the forced choice is made. In a
        terminated state only the no-op is legal, so a mask never is all False.
        """
        live = ~state.terminated
        select = self.selectable_region(state) & ~state.selected & live
        made_choice = state.chosen != NOT_CHOSEN
        noop = made_choice | state.terminated
        parts = [select, noop[None]]
        if self.stop_action:
            parts.append((made_choice & live)[None])
        return jnp.concatenate(parts)

    def get_obs(self, state: EnvState) -> Observation:
        """The agent's view: everything but the gate values."""
        return Observation(
            node_type=state.node_type,
            fanin=state.fanin,
            depth=state.depth,
            circuit_id=state.circuit_id,
            selected=state.selected,
            action_mask=self.action_mask(state),
            steps_left=state.steps_left,
        )

    # ----- dynamics ------------------------------------------------------------
    def step(
        self,
        key: jax.Array,
        state: EnvState,
        action: jax.Array | int,
        params: EnvParams | None = None,
    ) -> tuple[Observation, EnvState, jax.Array, jax.Array, jax.Array, dict[str, jax.Array]]:
        """One transition; see the class docstring for the rules.

        `key` and `params` are unused (the dynamics are deterministic) and kept
        for the gymnax/Jumanji signature. No auto-reset (see
        `do1rl.envs.wrappers.AutoReset`).

        Returns:
          (obs, state, reward float32[], terminated bool[], truncated bool[]
          (always False), info) with info = {"invalid_action": bool[],
          "optimal_return": int32[], "circuit_depth": int32[], "horizon":
          int32[]}, the last three describing this episode.
        """
        del key, params
        n = self.num_nodes
        action = jnp.asarray(action, jnp.int32)
        mask = self.action_mask(state)
        in_range = (action >= 0) & (action < self.num_actions)
        valid = in_range & mask[jnp.clip(action, 0, self.num_actions - 1)]
        live = ~state.terminated

        is_select = valid & (action < n) & live
        is_stop = valid & (action == n + 1) & live if self.stop_action else jnp.bool_(False)
        node = jnp.clip(action, 0, n - 1)
        pick = (jnp.arange(n) == node) & is_select
        selected = state.selected | pick
        chosen = jnp.where(
            is_select & (state.chosen == NOT_CHOSEN),
            state.circuit_id[node].astype(jnp.int32),
            state.chosen,
        )
        ends_now = is_stop
        if self.max_selections is not None:
            ends_now = ends_now | (is_select & (jnp.sum(selected) >= self.max_selections))
        steps_left = jnp.where(ends_now, 0, jnp.maximum(state.steps_left - 1, 0))
        ends = live & (steps_left == 0)
        reward = jnp.where(ends, solver.terminal_reward(selected, state.value, state.depth), 0)

        new = state.replace(  # type: ignore[attr-defined]  # flax.struct adds replace
            selected=selected,
            chosen=chosen,
            steps_left=steps_left,
            terminated=state.terminated | ends,
        )
        # A terminated state stays exactly as it is.
        new = jax.tree.map(lambda old, upd: jnp.where(live, upd, old), state, new)
        info = {
            "invalid_action": ~valid,
            "optimal_return": state.optimal_return,
            "circuit_depth": state.circuit_depth,
            "horizon": state.horizon,
        }
        return (
            self.get_obs(new),
            new,
            reward.astype(jnp.float32),
            new.terminated,
            jnp.bool_(False),
            info,
        )

    def optimal_value(self, state: EnvState) -> jax.Array:
        """int32[]: V*(s) as the spec defines it (0 steps left once terminated)."""
        tau = jnp.where(state.terminated, 0, state.steps_left)
        return solver.optimal_value(state.value, state.depth, state.selected, self.selectable_region(state), tau)

    def _finish_reset(self, state: EnvState) -> tuple[Observation, EnvState]:
        state = state.replace(optimal_return=self.optimal_value(state))  # type: ignore[attr-defined]  # flax.struct adds replace
        return self.get_obs(state), state
