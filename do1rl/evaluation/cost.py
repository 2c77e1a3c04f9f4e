"""What an evaluation costs, known before it starts: its node-steps (time) and the bytes of one chunk of episodes."""

from __future__ import annotations

from do1rl.core import limits

STATE_COPIES = 4  # env states alive per episode inside the compiled loop (carry, step, reset, observation)


def node_steps(env, episodes: int, per_step: int = 1) -> float:
    """Node updates of `episodes` episodes: each solve (max_depth layers) and step (max_horizon) touches every node.

    `per_step`: env steps per decision (an MCTS agent: its simulations + 1).
    """
    return float(episodes) * (env.max_depth + env.max_horizon * per_step) * env.num_nodes


def check_node_steps(env, episodes: int, per_step: int = 1, limit: float = limits.MAX_EVAL_NODE_STEPS) -> None:
    """InputError (one line) when an evaluation would exceed `limit` node-steps."""
    need = node_steps(env, episodes, per_step)
    if need > limit:
        minutes = need / limits.NODE_STEPS_PER_S / 60
        raise limits.InputError(
            f"this evaluation needs about {need:.2g} node-steps ({episodes} episodes x up to {env.max_horizon} steps "
            f"x {env.num_nodes} nodes), about {minutes:,.0f} min at {limits.NODE_STEPS_PER_S:.0e} node-steps/s on 2 CPU cores; "
            f"the limit is {limit:.2g}: use fewer episodes or a smaller env, or raise --max-node-steps"
        )


def state_bytes(env) -> int:
    """Bytes of one episode's env state: per node its type, depth, flags and fan-in slots."""
    return env.num_nodes * (4 * env.fanin_slots + 8)


def episodes_per_chunk(env, chunk: int) -> int:
    """`chunk`, lowered so that one chunk's episode states fit `limits.MAX_EVAL_CHUNK_BYTES` (at least 1)."""
    fits = limits.MAX_EVAL_CHUNK_BYTES // max(STATE_COPIES * state_bytes(env), 1)
    return max(1, min(chunk, fits))
