"""Part 3, training: PPO env-steps/s, compile time and GFLOP/s per network family, and their side-by-side variants."""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from .env import uniform_legal_actions
from .harness import side_by_side, timed

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TRAIN_CONFIG = ROOT / "configs" / "ppo_alternating_small.yaml"


def updates_per_run(smoke: bool) -> int:
    """PPO updates in one timed call (training and peers alike)."""
    return 1 if smoke else 2


def matmul_peak(size: int, repeats: int) -> dict:
    """GFLOP/s of a float32 [size, size] @ [size, size] matmul: the reference peak for the training figures."""
    a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
    run = jax.jit(lambda a: a @ a)
    t = timed(lambda: jax.block_until_ready(run(a)), repeats)
    return {"size": size, "time": t, "gflops_per_s": 2 * size**3 / t["median_s"] / 1e9}


def train_config(family: str, smoke: bool, width: int = 64):
    """The benchmark's TrainConfig: the default config's env and PPO settings, `family` at a fixed size."""
    from do1rl.agents.networks import NetworkConfig
    from do1rl.experiments import config as config_lib
    from do1rl.experiments.train_config import TrainConfig

    base = config_lib.load(TrainConfig, DEFAULT_TRAIN_CONFIG)
    depth = {"mlp": 4, "gnn": 3, "recurrent": 1}[family]
    ppo = base.ppo
    if smoke:
        ppo = dataclasses.replace(ppo, num_envs=8, num_steps=8, num_minibatches=2, total_timesteps=64)
    network = NetworkConfig(family=family, depth=depth, width=width)
    return dataclasses.replace(base, network=network, ppo=ppo)


def compile_trainer(config, updates: int, init: bool = True):
    """(Trainer, initial state, compiled chunk function of `updates` iterations, compile seconds).

    With `init=False` the chunk is lowered from the state's shapes and no state is made (None).
    """
    from do1rl.experiments.trainer import Trainer, seed_keys

    trainer = Trainer(config)
    state = jax.block_until_ready(trainer.init(seed_keys(config))) if init else trainer.state_shape
    t0 = time.perf_counter()
    compiled = trainer.run_chunk.lower(state, updates).compile()
    compile_s = time.perf_counter() - t0
    return trainer, state if init else None, compiled, compile_s


@functools.cache
def compiled_training(family: str, smoke: bool, updates: int):
    """(config, trainer, state, compiled chunk, compile seconds) of the bench's `family` config, compiled once per process."""
    config = train_config(family, smoke)
    return (config, *compile_trainer(config, updates))


@functools.cache
def compiled_rollout(family: str, smoke: bool, updates: int):
    """The seed-vmapped PPO rollout alone of `compiled_training(...)`'s trainer, compiled."""
    _, trainer, state, _, _ = compiled_training(family, smoke, updates)
    return jax.jit(jax.vmap(trainer.learner._rollout)).lower(state).compile()


def ppo_flops_per_update(config, trainer) -> float | None:
    """Estimated FLOPs of one PPO update: network forwards on the rollout, forward+backward (3x) per epoch.

    From XLA's cost analysis of one network apply (`network_flops`, which
    counts the recurrent block T(obs) times), at the first observation.
    """
    from do1rl.experiments.sweep.flops import network_flops

    obs, _ = jax.jit(trainer.env.reset)(jax.random.key(0), trainer.env_params)
    per_obs = network_flops(config.network, trainer.env, obs)
    if per_obs is None:
        return None
    return per_obs * config.ppo.batch_size * (1 + 3 * config.ppo.update_epochs)


def bench_rolled_recurrent(config, trainer, state, updates: int, repeats: int, new_run) -> dict:
    """Recurrent PPO, side by side: the new path against today's and against the unrolled loop alone.

    Today's: rolled loop, edge bookkeeping every iteration, vmapped over observations
    (no flat aggregation). Unrolled: the new loop, vmapped over observations.
    All reset every env on every step.
    """
    from do1rl.agents.ppo import PPO

    def compiled(**network_options):
        network = trainer.network.clone(**network_options)
        ppo = PPO(trainer.env, trainer.env_params, network, config.ppo, partial_reset=False)
        run = jax.jit(jax.vmap(ppo.run, in_axes=(0, None)), static_argnums=1).lower(state, updates).compile()
        return lambda: jax.block_until_ready(run(state))

    runs = {"new": new_run, "rolled": compiled(unrolled=False, flat=False), "unrolled": compiled(flat=False)}
    t = side_by_side(runs, repeats)
    return {
        "time": t,
        "ratio": t["rolled"]["median_s"] / t["new"]["median_s"],
        "flat_vs_unrolled": t["unrolled"]["median_s"] / t["new"]["median_s"],
    }


def bench_without_means(family: str, smoke: bool, updates: int, repeats: int, run) -> dict:
    """PPO with the graph blocks' mean aggregates dropped (`mean_aggregates=False`) against the default, side by side."""
    config = train_config(family, smoke)
    config = dataclasses.replace(config, network=dataclasses.replace(config.network, mean_aggregates=False))
    _, state, compiled, _ = compile_trainer(config, updates)
    t = side_by_side({"with": run, "without": lambda: jax.block_until_ready(compiled(state))}, repeats)
    return {"time": t, "ratio": t["with"]["median_s"] / t["without"]["median_s"]}


def env_steps_only(ppo, num_steps: int):
    """`f(env_state, key) -> (env_state, reward sum)`: the PPO rollout's env steps alone, random legal actions, no network.

    Auto-reset included; the final states are returned so that XLA keeps all of each step's work.
    """

    def rollout(env_state, key):
        def one(env_state, key):
            act_key, step_key = jax.random.split(key)
            actions = uniform_legal_actions(act_key, jax.vmap(ppo.env.action_mask)(env_state))
            num_envs = actions.shape[0]
            out = ppo.env.step_batch(jax.random.split(step_key, num_envs), env_state, actions, ppo.env_params)
            return out[1], out[2].sum()

        env_state, rewards = jax.lax.scan(one, env_state, jax.random.split(key, num_steps))
        return env_state, rewards.sum()

    return rollout


def bench_ppo_phases(family: str, smoke: bool, updates: int, repeats: int) -> dict:
    """do1rl PPO per update: whole iterations, the rollout alone and its env steps alone, side by side.

    Times are per update; "policy" is rollout minus env steps (network
    forward, sampling, bookkeeping), "update" is whole minus rollout (GAE,
    shuffling, the minibatch gradient steps).
    """
    _, trainer, state, compiled, _ = compiled_training(family, smoke, updates)
    run = lambda: jax.block_until_ready(compiled(state))
    ppo = trainer.learner
    rollout = compiled_rollout(family, smoke, updates)
    keys = jax.random.split(jax.random.key(1), state.episode_return.shape[0])  # one per seed
    env_only = jax.jit(jax.vmap(env_steps_only(ppo, ppo.config.num_steps))).lower(state.env_state, keys).compile()
    t = side_by_side(
        {
            "whole": run,
            "rollout": lambda: jax.block_until_ready(rollout(state)),
            "env_steps": lambda: jax.block_until_ready(env_only(state.env_state, keys)),
        },
        repeats,
    )
    whole, roll, env = t["whole"]["median_s"] / updates, t["rollout"]["median_s"], t["env_steps"]["median_s"]
    return {
        "time": t,
        "per_update_s": {"whole": whole, "rollout": roll, "env_steps": env, "policy": roll - env, "update": whole - roll},
    }


def bench_training(family: str, smoke: bool, repeats: int, updates: int, peak: float | None = None) -> dict:
    """do1rl PPO env-steps/s (rollouts and updates) for one network family, with compile time.

    For the mlp (the peers' comparison) the time per update is also split into phases (`bench_ppo_phases`).
    """
    from do1rl.agents.networks import param_count

    config, trainer, state, compiled, compile_s = compiled_training(family, smoke, updates)
    run = lambda: jax.block_until_ready(compiled(state))
    rolled = bench_rolled_recurrent(config, trainer, state, updates, repeats, run) if family == "recurrent" else None
    phases = bench_ppo_phases(family, smoke, updates, repeats) if family == "mlp" else None
    no_means = bench_without_means(family, smoke, updates, repeats, run) if family != "mlp" else None
    if rolled:
        t = rolled["time"]["new"]
    elif phases:
        t = phases["time"]["whole"]
    else:
        t = timed(run, repeats)
    params = jax.tree.map(lambda x: x[0], state.params)
    net = config.network
    flops = ppo_flops_per_update(config, trainer)
    gflops = None if flops is None else flops * updates / t["median_s"] / 1e9
    return {
        "gflops_per_s": gflops,
        "fraction_of_matmul_peak": None if gflops is None or not peak else gflops / peak,
        "vs_rolled": rolled,
        "without_means": no_means,
        "phases": phases,
        "family": family,
        "network": dataclasses.asdict(net),
        "parameters": param_count(params),
        "env": {"id": config.env.id, **config.env.args},
        "num_envs": config.ppo.num_envs,
        "num_steps": config.ppo.num_steps,
        "num_minibatches": config.ppo.num_minibatches,
        "update_epochs": config.ppo.update_epochs,
        "updates_per_run": updates,
        "compile_s": compile_s,
        "time": t,
        "env_steps_per_s": updates * config.ppo.batch_size / t["median_s"],
    }


def run(report: dict, smoke: bool, repeats: int, log) -> dict:
    """Part 3's training entries: the matmul peak, each family's PPO run, the recurrent ratio."""
    updates = updates_per_run(smoke)
    families = ("mlp",) if smoke else ("mlp", "gnn", "recurrent")
    peak = matmul_peak(256 if smoke else 2048, repeats)
    log(f"matmul peak ({peak['size']}^3 float32): {peak['gflops_per_s']:.1f} GFLOP/s")
    training = {}
    for family in families:
        training[family] = r = bench_training(family, smoke, repeats, updates, peak["gflops_per_s"])
        frac = r["fraction_of_matmul_peak"]
        log(
            f"train {family}: {r['env_steps_per_s']:,.0f} env-steps/s, compile {r['compile_s']:.1f}s"
            + ("" if frac is None else f", {r['gflops_per_s']:.2f} GFLOP/s = {100 * frac:.1f}% of matmul peak")
            + (
                ""
                if r["vs_rolled"] is None
                else f", {r['vs_rolled']['ratio']:.2f}x the rolled loop"
                f" ({r['vs_rolled']['flat_vs_unrolled']:.2f}x the unrolled loop without flat aggregation)"
            )
            + ("" if not r.get("without_means") else f"; without the mean aggregates {r['without_means']['ratio']:.2f}x")
        )
    out: dict = {"matmul_peak": peak}
    if "recurrent" in training:
        out["recurrent_vs_rolled"] = training["recurrent"]["vs_rolled"]["ratio"]
    out["training"] = training
    return out
