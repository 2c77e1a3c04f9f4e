"""Evaluators: play N episodes of a policy and report the spec's metrics.

Episodes run inside one jitted, vmapped `lax.while_loop` per chunk of
episodes, so long evaluations show progress without recompiling. Episode i
always uses `fold_in(key(seed), i)`, so results do not depend on the chunk
size or on how many devices the episodes are sharded across.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Policy = Callable[[jax.Array, dict, Any], jax.Array]
ValueFn = Callable[[dict], jax.Array]

METRIC_KEYS = (
    "episodes",
    "mean_return",
    "mean_optimal",
    "mean_regret",
    "max_regret",
    "mean_ratio",
    "median_ratio",
    "p5_ratio",
    "min_ratio",
)


class Episodes(NamedTuple):
    """Per-episode outcomes, each of shape [E].

    Attributes:
      returns: float32, the episode's return r.
      optimal: int32, r* = V*(s0) from the solver.
      circuit_depth: int32, depth of the main circuit C.
      length: int32, actions taken.
    """

    returns: jax.Array
    optimal: jax.Array
    circuit_depth: jax.Array
    length: jax.Array


def play_episode(env, params, policy: Policy, key: jax.Array) -> Episodes:
    """Plays one episode to termination (vmap it for a batch)."""
    reset_key, key = jax.random.split(key)
    obs, state = env.reset(reset_key, params)

    def body(carry):
        key, obs, state, ret, length = carry
        key, act_key, step_key = jax.random.split(key, 3)
        action = policy(act_key, obs, state)
        obs, state, reward, _, _, _ = env.step(step_key, state, action, params)
        return key, obs, state, ret + reward, length + 1

    _, _, final, ret, length = jax.lax.while_loop(
        lambda c: ~c[2].terminated, body, (key, obs, state, jnp.float32(0), jnp.int32(0))
    )
    return Episodes(ret, state.optimal_return, state.circuit_depth, length)


def episode_keys(seed: int, start: int, count: int) -> jax.Array:
    """Keys of episodes start..start+count-1 for a seed."""
    base = jax.random.key(seed)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(start, start + count))


def local_mesh(devices: int, axis: str) -> jax.sharding.Mesh:
    """A one-axis mesh over the first `devices` local devices (ValueError if too many)."""
    available = jax.local_devices()
    if not 1 <= devices <= len(available):
        raise ValueError(f"devices must be in 1..{len(available)} (local devices), got {devices}")
    return jax.sharding.Mesh(np.array(available[:devices]), (axis,))


def episode_sharding(devices: int) -> jax.sharding.Sharding:
    """Shards a leading episode axis across the first `devices` local devices."""
    mesh = local_mesh(devices, "episodes")
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("episodes"))


def make_player(env, policy: Policy) -> Callable[[Any, jax.Array], Episodes]:
    """`player(params, keys) -> Episodes`, jitted and vmapped over keys."""
    return jax.jit(jax.vmap(lambda params, key: play_episode(env, params, policy, key), in_axes=(None, 0)))


def play(
    env,
    params,
    policy: Policy,
    *,
    episodes: int,
    seed: int = 0,
    chunk: int = 1024,
    progress: bool = False,
    player: Callable | None = None,
    devices: int = 1,
) -> Episodes:
    """Plays `episodes` episodes in chunks of one compiled shape.

    With `devices > 1` each chunk's episodes are sharded across that many
    local devices (episode i keeps its key, so the numbers do not change).
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    player = player or make_player(env, policy)
    place = episode_sharding(devices)
    size = -(-min(chunk, episodes) // devices) * devices  # a multiple of `devices`
    parts = []
    starts = range(0, episodes, size)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=episodes, unit="ep", desc="eval")
    for start in starts:
        out = player(params, jax.device_put(episode_keys(seed, start, size), place))
        take = min(size, episodes - start)
        parts.append(jax.tree.map(lambda x, take=take: np.asarray(x)[:take], out))
        if bar is not None:
            bar.update(take)
    if bar is not None:
        bar.close()
    return Episodes(*(np.concatenate(xs) for xs in zip(*parts)))


def _summary(returns: np.ndarray, optimal: np.ndarray) -> dict:
    ratio = np.where(optimal == 0, 1.0, returns / np.maximum(optimal, 1))
    regret = optimal - returns
    return {
        "episodes": int(returns.size),
        "mean_return": float(returns.mean()),
        "mean_optimal": float(optimal.mean()),
        "mean_regret": float(regret.mean()),
        "max_regret": float(regret.max()),
        "mean_ratio": float(ratio.mean()),
        "median_ratio": float(np.median(ratio)),
        "p5_ratio": float(np.percentile(ratio, 5)),
        "min_ratio": float(ratio.min()),
    }


def metrics(results: Episodes) -> dict:
    """The spec's metrics over a batch of episodes, overall and by circuit depth.

    Ratio r / r* is 1 when r* = 0; regret is r* - r.
    """
    returns = np.asarray(results.returns, np.float64)
    optimal = np.asarray(results.optimal, np.float64)
    depths = np.asarray(results.circuit_depth)
    report = _summary(returns, optimal)
    report["by_depth"] = {
        str(int(d)): _summary(returns[depths == d], optimal[depths == d]) for d in np.unique(depths)
    }
    return report


def evaluate(env, params, policy: Policy, *, episodes: int, seed: int = 0, **play_kwargs) -> dict:
    """Plays `episodes` episodes and returns `metrics` of them."""
    return metrics(play(env, params, policy, episodes=episodes, seed=seed, **play_kwargs))


class ValueStats(NamedTuple):
    """Running value-function statistics of one episode (scalars)."""

    positive_states: jax.Array
    min_ratio: jax.Array
    max_ratio: jax.Array
    zero_states: jax.Array
    zero_max_abs: jax.Array
    zero_sum_abs: jax.Array


def _value_episode(env, params, policy: Policy, value_fn: ValueFn, key: jax.Array) -> ValueStats:
    reset_key, key = jax.random.split(key)
    obs, state = env.reset(reset_key, params)
    inf = jnp.float32(jnp.inf)
    stats0 = ValueStats(jnp.int32(0), inf, -inf, jnp.int32(0), jnp.float32(0), jnp.float32(0))

    def body(carry):
        key, obs, state, s = carry
        v = jnp.asarray(value_fn(obs), jnp.float32)
        v_star = env.optimal_value(state).astype(jnp.float32)
        pos = v_star > 0
        ratio = v / jnp.maximum(v_star, 1.0)
        s = ValueStats(
            s.positive_states + pos,
            jnp.where(pos, jnp.minimum(s.min_ratio, ratio), s.min_ratio),
            jnp.where(pos, jnp.maximum(s.max_ratio, ratio), s.max_ratio),
            s.zero_states + ~pos,
            jnp.where(pos, s.zero_max_abs, jnp.maximum(s.zero_max_abs, jnp.abs(v))),
            s.zero_sum_abs + jnp.where(pos, 0.0, jnp.abs(v)),
        )
        key, act_key, step_key = jax.random.split(key, 3)
        obs, state, *_ = env.step(step_key, state, policy(act_key, obs, state), params)
        return key, obs, state, s

    *_, stats = jax.lax.while_loop(lambda c: ~c[2].terminated, body, (key, obs, state, stats0))
    return stats


def value_report(
    env, params, value_fn: ValueFn, policy: Policy, *, episodes: int, seed: int = 0
) -> dict:
    """How well V approximates V* on the states `policy` visits (Theorem G.2(a)).

    Over visited decision states with V*(s) > 0 it reports the smallest and
    largest V(s) / V*(s); states with V*(s) = 0 are reported apart, by |V(s)|.
    """
    run = jax.jit(jax.vmap(lambda k: _value_episode(env, params, policy, value_fn, k)))
    s = jax.tree.map(np.asarray, run(episode_keys(seed, 0, episodes)))
    positive = int(s.positive_states.sum())
    zero = int(s.zero_states.sum())
    return {
        "episodes": episodes,
        "states": positive + zero,
        "positive_states": positive,
        "min_value_ratio": float(s.min_ratio.min()) if positive else None,
        "max_value_ratio": float(s.max_ratio.max()) if positive else None,
        "zero_states": zero,
        "zero_state_max_abs_value": float(s.zero_max_abs.max()) if zero else None,
        "zero_state_mean_abs_value": float(s.zero_sum_abs.sum() / zero) if zero else None,
    }


def format_table(report: dict) -> str:
    """A readable table of a `metrics` report: overall, then by depth."""
    cols = ("episodes", "mean_return", "mean_optimal", "mean_regret", "max_regret", "mean_ratio", "p5_ratio", "min_ratio")
    header = f"{'depth':>7} " + " ".join(f"{c:>12}" for c in cols)
    row = lambda label, m: f"{label:>7} " + " ".join(  # noqa: E731
        f"{m[c]:>12d}" if c == "episodes" else f"{m[c]:>12.4f}" for c in cols
    )
    lines = [header, row("all", report)]
    lines += [row(d, m) for d, m in sorted(report["by_depth"].items(), key=lambda kv: int(kv[0]))]
    return "\n".join(lines)
