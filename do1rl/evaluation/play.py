"""Playing episodes: N episodes of a policy, jitted and vmapped, in chunks.

Episodes run inside one jitted, vmapped `lax.while_loop` per chunk of
episodes, so long evaluations show progress without recompiling. Episode i
always uses `fold_in(key(seed), i)`, so results do not depend on the chunk
size or on how many devices the episodes are sharded across.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from do1rl.envs.types import MAIN, NOT_CHOSEN, EnvState, Observation, Policy  # Policy: re-exported by do1rl.evaluation
from do1rl.evaluation.cost import episodes_per_chunk
from do1rl.evaluation.metrics import metrics
from do1rl.sharding import local_mesh


class Episodes(NamedTuple):
    """Per-episode outcomes, each of shape [E].

    Attributes:
      returns: float32, the episode's return r.
      optimal: int32, r* = V*(s0) from the solver.
      circuit_depth: int32, depth of the main circuit C.
      length: int32, actions taken.
      d1: int32, d1(C, x) of the main circuit.
      cert_d1: int32, cert(d1) of the main circuit (docs/hard-instances.md).
      chain_length: int32, k (DO1), 0 for AlternatingCircuit.
      first_circuit: int32, the circuit of the first selected gate (MAIN or
        CHAIN; DO1's forced choice), -1 if the episode selected none.

    The last four default to None, for outcomes recorded without them.
    """

    returns: jax.Array
    optimal: jax.Array
    circuit_depth: jax.Array
    length: jax.Array
    d1: jax.Array | None = None
    cert_d1: jax.Array | None = None
    chain_length: jax.Array | None = None
    first_circuit: jax.Array | None = None


# An episode's first observation and state, as `env.reset` returns them.
Start = tuple[Observation, EnvState]


def play_episode(env, params, policy: Policy, key: jax.Array, start: Start | None = None) -> Episodes:
    """Plays one episode to termination (vmap it for a batch).

    `start` is the episode's reset, if already made (`reset_starts`); the
    episode is the same either way.
    """
    reset_key, key = jax.random.split(key)
    obs, state = env.reset(reset_key, params) if start is None else start

    def body(carry):
        key, obs, state, ret, length = carry
        key, act_key, step_key = jax.random.split(key, 3)
        action = policy(act_key, obs, state)
        obs, state, reward, _, _, _ = env.step(step_key, state, action, params)
        return key, obs, state, ret + reward, length + 1

    _, _, final, ret, length = jax.lax.while_loop(lambda c: ~c[2].terminated, body, (key, obs, state, jnp.float32(0), jnp.int32(0)))
    main_gate = env.selectable_region(state) & (state.circuit_id == MAIN)
    d1 = jnp.max(jnp.where(main_gate & state.value, state.depth, 0)).astype(jnp.int32)
    first = jnp.where(jnp.any(final.selected), final.chosen, NOT_CHOSEN).astype(jnp.int32)
    return Episodes(ret, state.optimal_return, state.circuit_depth, length, d1, state.cert_depth, state.chain_length, first)


def episode_keys(seed: int, start: int, count: int) -> jax.Array:
    """Keys of episodes start..start+count-1 for a seed."""
    base = jax.random.key(seed)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(start, start + count))


def episode_sharding(devices: int) -> jax.sharding.Sharding:
    """Shards a leading episode axis across the first `devices` local devices."""
    mesh = local_mesh(devices, "episodes")
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("episodes"))


def make_player(env, policy: Policy) -> Callable[..., Episodes]:
    """`player(params, keys, starts=None) -> Episodes`, jitted and vmapped over keys (and starts)."""
    batched = jax.jit(jax.vmap(lambda params, key, start: play_episode(env, params, policy, key, start), in_axes=(None, 0, 0)))
    return lambda params, keys, starts=None: batched(params, keys, starts)


def reset_starts(env, params, *, episodes: int, seed: int = 0, chunk: int = 1024) -> Start:
    """The resets of episodes 0..episodes-1 of `seed`, as `play` would make them (host arrays, leading axis [E]).

    Pass them to `play(..., starts=)` to play many policies on the same
    episodes without drawing their instances again.
    """
    reset = jax.jit(jax.vmap(lambda key: env.reset(jax.random.split(key)[0], params)))
    chunk = episodes_per_chunk(env, chunk)
    parts = [jax.device_get(reset(episode_keys(seed, s, min(chunk, episodes - s)))) for s in range(0, episodes, chunk)]
    return jax.tree.map(lambda *xs: np.concatenate(xs), *parts)


def play(
    env,
    params,
    policy: Policy | None,
    *,
    episodes: int,
    seed: int = 0,
    chunk: int = 1024,
    progress: bool = False,
    player: Callable | None = None,
    devices: int = 1,
    starts: Start | None = None,
) -> Episodes:
    """Plays `episodes` episodes in chunks of one compiled shape.

    `player` (from `make_player`) plays the chunks if given, and `policy`
    may then be None; else `make_player(env, policy)` makes one.
    With `devices > 1` each chunk's episodes are sharded across that many
    local devices (episode i keeps its key, so the numbers do not change).
    `starts` (from `reset_starts` with the same seed and at least `episodes`
    episodes) skips the resets; the episodes are the same.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if starts is not None and len(starts[0].node_type) < episodes:
        raise ValueError(f"starts hold {len(starts[0].node_type)} episodes, fewer than {episodes}")
    if player is None:
        if policy is None:
            raise ValueError("play needs a policy or a player")
        player = make_player(env, policy)
    place = episode_sharding(devices)
    chunk = episodes_per_chunk(env, chunk)  # the chunk's states fit memory (results do not depend on it)
    size = -(-min(chunk, episodes) // devices) * devices  # a multiple of `devices`
    parts = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=episodes, unit="ep", desc="eval")
    for start in range(0, episodes, size):
        keys = jax.device_put(episode_keys(seed, start, size), place)
        if starts is None:
            out = player(params, keys)
        else:  # the last chunk repeats episode E-1 to keep the compiled shape; those rows are dropped
            rows = np.minimum(np.arange(start, start + size), episodes - 1)
            out = player(params, keys, jax.device_put(jax.tree.map(lambda x, rows=rows: x[rows], starts), place))
        take = min(size, episodes - start)
        parts.append(jax.tree.map(lambda x, take=take: np.asarray(x)[:take], out))
        if bar is not None:
            bar.update(take)
    if bar is not None:
        bar.close()
    return Episodes(*(np.concatenate(xs) for xs in zip(*parts)))  # type: ignore[arg-type]  # host arrays, not jax.Array


def evaluate(env, params, policy: Policy, *, episodes: int, seed: int = 0, **play_kwargs) -> dict:
    """Plays `episodes` episodes and returns `metrics` of them."""
    return metrics(play(env, params, policy, episodes=episodes, seed=seed, **play_kwargs))
