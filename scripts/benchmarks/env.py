"""Part 2, environment: vectorised DO1 steps/s, batched resets (one-call generator) and auto-reset rollouts."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp

from do1rl.core.generators import RandomAlternating, generator_dataclass

from .harness import side_by_side, timed


def uniform_legal_actions(key: jax.Array, action_mask: jax.Array) -> jax.Array:
    """One uniformly random legal action per env, from a single PRNG call for the batch."""
    rank = jax.random.randint(key, action_mask.shape[:1], 0, jnp.maximum(action_mask.sum(-1), 1))
    return jnp.argmax(jnp.cumsum(action_mask, -1) > rank[:, None], -1).astype(jnp.int32)


def bench_env(num_envs: int, gates: int, steps: int, repeats: int) -> dict:
    """Steps/s of the vmapped DO1 step inside lax.scan, observations materialised.

    Actions are uniformly random legal actions drawn for the whole batch at
    once, so the figure measures the environment rather than per-env PRNG
    splitting.
    """
    from do1rl.envs.do1 import DO1

    width = 8
    env = DO1(generator=RandomAlternating(n_inputs=8, depth=gates // width, width=width))
    params = env.default_params
    keys = jax.random.split(jax.random.key(0), num_envs)
    obs, state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    step = jax.vmap(env.step, in_axes=(None, 0, 0, None))

    def rollout(state, obs, key):
        def one(carry, key):
            state, obs = carry
            actions = uniform_legal_actions(key, obs.action_mask)
            obs, state, reward, _, _, _ = step(key, state, actions, params)
            # Materialise the observation as an agent sees it.
            checksum = sum(jnp.sum(x.astype(jnp.int32)) for x in jax.tree.leaves(obs))
            return (state, obs), reward.sum() + checksum

        (state, obs), out = jax.lax.scan(one, (state, obs), jax.random.split(key, steps))
        return state, out.sum()

    run = jax.jit(rollout)
    t0 = time.perf_counter()
    compiled = run.lower(state, obs, jax.random.key(1)).compile()
    compile_s = time.perf_counter() - t0
    t = timed(lambda: jax.block_until_ready(compiled(state, obs, jax.random.key(1))), repeats)
    return {
        "num_envs": num_envs,
        "nodes": env.num_nodes,
        "steps": steps,
        "compile_s": compile_s,
        "time": t,
        "env_steps_per_s": num_envs * steps / t["median_s"],
    }


def bench_rollout(num_envs: int, steps: int, repeats: int, smoke: bool) -> dict:
    """DO1 rollouts with auto-reset (random legal actions): resets only where episodes ended vs for every env.

    Both are `AutoReset.step_batch` in one lax.scan, timed side by side;
    `partial=False` is the earlier path (a reset for every env, every step).
    """
    from do1rl.envs.do1 import DO1
    from do1rl.envs.wrappers import AutoReset

    gen = RandomAlternating(n_inputs=2, depth=2, width=2) if smoke else RandomAlternating()
    env = DO1(generator=gen, stop_action=True)
    params = env.default_params
    obs, state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(jax.random.split(jax.random.key(0), num_envs), params)

    def compiled(wrapper):
        def rollout(obs, state, key):
            def one(carry, key):
                obs, state = carry
                act_key, step_key = jax.random.split(key)
                actions = uniform_legal_actions(act_key, obs.action_mask)
                out = wrapper.step_batch(jax.random.split(step_key, num_envs), state, actions, params)
                return out[:2], out[3].sum()

            return jax.lax.scan(one, (obs, state), jax.random.split(key, steps))[1].sum()

        return jax.jit(rollout).lower(obs, state, jax.random.key(1)).compile()

    runs = {"partial": compiled(AutoReset(env)), "full": compiled(AutoReset(env, partial=False))}
    episodes = int(runs["partial"](obs, state, jax.random.key(1)))
    same = episodes == int(runs["full"](obs, state, jax.random.key(1)))
    t = side_by_side({k: lambda f=f: jax.block_until_ready(f(obs, state, jax.random.key(1))) for k, f in runs.items()}, repeats)
    return {
        "env": {"id": "do1rl/DO1-v0", "depth": gen.depth, "width": gen.width, "stop_action": True},
        "num_envs": num_envs,
        "steps": steps,
        "episodes_ended": episodes,
        "same_episode_count": same,
        "time": t,
        "env_steps_per_s": {k: num_envs * steps / v["median_s"] for k, v in t.items()},
        "ratio": t["full"]["median_s"] / t["partial"]["median_s"],
    }


@generator_dataclass  # rebuilt by jax without its checks, like the generators it is measured against
class RandomAlternatingPerCall(RandomAlternating):
    """`RandomAlternating` as it drew before one-draw words: seven split keys, one `jax.random` call per choice.

    The reference of `bench_reset_one_call`: the same distribution, other samples.
    """

    def random_choices(self, key):
        n, depth, width = self.n_inputs, self.depth, self.width
        k_bits, k_first, k_used, k_kind, k_skip, k_pick, k_input = jax.random.split(key, 7)
        bits = jax.random.bernoulli(k_bits, self.p_one, (n,))
        first_is_and = jnp.bool_(True) if self.prefix_chain else jax.random.bernoulli(k_first)
        gate_layer, gate_is_and = self.gate_layers_and_kinds(first_is_and)
        reads = self.max_fanin - 1
        shape = (depth * width, reads)
        layer_start = lambda layer: self.first_gate_node + (layer - 1) * width
        offset = jax.random.randint(k_pick, shape, 0, width)
        prev_gate = layer_start(gate_layer - 1)[:, None] + offset
        n_skip_layers = jnp.maximum((gate_layer - 2) // 2, 0)[:, None]
        j = jnp.floor(jax.random.uniform(k_skip, shape) * n_skip_layers).astype(jnp.int32)
        skip_gate = layer_start(gate_layer[:, None] - 3 - 2 * j) + offset
        free_slot = jnp.arange(reads) > 0
        reads_skip = free_slot & (n_skip_layers > 0) & jax.random.bernoulli(k_kind, self.skip_prob, shape)
        source = jnp.where(reads_skip, skip_gate, prev_gate)
        source = jnp.where((gate_layer == 1)[:, None], jax.random.randint(k_input, shape, 0, n), source)
        used = jax.random.bernoulli(k_used, 0.5, shape) | ~free_slot
        k_and, k_which = jax.random.split(k_input)
        and_reads_input = (gate_is_and & (gate_layer > 1))[:, None] & jax.random.bernoulli(k_and, self.input_prob, (depth * width, 1))
        input_slot = jnp.where(and_reads_input, jax.random.randint(k_which, (depth * width, 1), 0, n), -1)
        return bits, first_is_and, jnp.concatenate([jnp.where(used, source, -1), input_slot], axis=1).astype(jnp.int32)


def bench_reset_one_call(batches: tuple[int, ...], repeats: int, smoke: bool) -> dict:
    """Batched DO1 resets: the generator drawing its words in one call against the per-call one, side by side.

    Per batch size: `jit(vmap(env.reset))` and the generator alone, both ways, interleaved.
    """
    from do1rl.envs.do1 import DO1

    sizes = dict(n_inputs=2, depth=2, width=2) if smoke else {}
    gens = {"one_call": RandomAlternating(**sizes), "per_call": RandomAlternatingPerCall(**sizes)}
    out = {"env": {"id": "do1rl/DO1-v0", "depth": gens["one_call"].depth, "width": gens["one_call"].width}}
    for batch in batches:
        keys = jax.random.split(jax.random.key(0), batch)
        fns = {}
        for name, gen in gens.items():
            env = DO1(generator=gen, stop_action=True)
            reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None))).lower(keys, env.default_params).compile()
            draw = jax.jit(jax.vmap(gen)).lower(keys).compile()
            fns[f"reset_{name}"] = lambda f=reset, k=keys, p=env.default_params: jax.block_until_ready(f(k, p))
            fns[f"generator_{name}"] = lambda f=draw, k=keys: jax.block_until_ready(f(k))
        t = side_by_side(fns, repeats)
        out[str(batch)] = {
            "time": t,
            "resets_per_s": {k: batch / t[f"reset_{k}"]["median_s"] for k in gens},
            "ratio": t["reset_per_call"]["median_s"] / t["reset_one_call"]["median_s"],
            "generator_ratio": t["generator_per_call"]["median_s"] / t["generator_one_call"]["median_s"],
        }
    return out


def run(report: dict, smoke: bool, repeats: int, log) -> dict:
    """Part 2's report entries: env steps/s, resets one call vs per call, rollouts partial vs full reset."""
    out = {}
    env = bench_env(64, 16, 8, repeats) if smoke else bench_env(4096, 64, 64, repeats)
    out.update(env=env, env_steps_per_s=env["env_steps_per_s"])
    log(f"env: {env['env_steps_per_s']:.3g} steps/s ({env['num_envs']} envs), compile {env['compile_s']:.2f}s")
    resets = bench_reset_one_call((8,) if smoke else (256, 2048), repeats, smoke)
    first = next(r for k, r in resets.items() if k != "env")
    out.update(resets=resets, reset_one_call=first["ratio"])
    log(f"resets, one-call generator vs per-call: {first['ratio']:.2f}x (generator alone {first['generator_ratio']:.2f}x)")
    roll = bench_rollout(8, 4, repeats, smoke=True) if smoke else bench_rollout(256, 32, repeats, smoke=False)
    out.update(rollout=roll, rollout_partial_reset=roll["ratio"])
    rates = roll["env_steps_per_s"]
    log(
        f"rollout with auto-reset ({roll['num_envs']} envs): partial {rates['partial']:,.0f} vs full"
        f" {rates['full']:,.0f} env-steps/s = {roll['ratio']:.2f}x, {roll['episodes_ended']} episodes ended"
    )
    return out
