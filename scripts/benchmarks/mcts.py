"""Part 4, MCTS: decisions/s of do1rl's batched search against mctx's, walk lengths and one walk step."""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from .harness import side_by_side


def bench_mcts(simulations: int, batch: int, repeats: int) -> dict:
    """Decisions/s of the batched search on the true model (uniform priors): do1rl's search vs mctx's, side by side."""
    from do1rl.agents.mcts import MCTSConfig, make_mcts_policy
    from do1rl.envs.make import make

    args = {"depth": 4, "width": 4, "stop_action": True}
    env, params = make("do1rl/AlternatingCircuit-v0", **args)
    policy = make_mcts_policy(env, params, MCTSConfig(simulations=simulations))
    reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    _, states = reset(jax.random.split(jax.random.key(0), batch), params)
    key = jax.random.key(1)
    runs, compile_s = {}, {}
    for name, search in (("do1rl", policy.search), ("mctx", policy.search_mctx)):
        t0 = time.perf_counter()
        runs[name] = jax.jit(lambda key, states, search=search: search(key, states).action).lower(key, states).compile()
        compile_s[name] = time.perf_counter() - t0
    same = bool(np.array_equal(np.asarray(runs["do1rl"](key, states)), np.asarray(runs["mctx"](key, states))))
    walks = walk_lengths(np.asarray(jax.jit(lambda key, states: policy.search(key, states).search_tree.parents)(key, states)))
    t = side_by_side({k: lambda f=f: jax.block_until_ready(f(key, states)) for k, f in runs.items()}, repeats)
    return {
        "env": {"id": "do1rl/AlternatingCircuit-v0", **args},
        "simulations": simulations,
        "batch": batch,
        "compile_s": compile_s["do1rl"],
        "mctx_compile_s": compile_s["mctx"],
        "same_actions": same,
        "time": t["do1rl"],
        "mctx_time": t["mctx"],
        "decisions_per_s": batch / t["do1rl"]["median_s"],
        "mctx_decisions_per_s": batch / t["mctx"]["median_s"],
        "simulations_per_s": batch * simulations / t["do1rl"]["median_s"],
        "vs_mctx": t["mctx"]["median_s"] / t["do1rl"]["median_s"],
        **walks,
    }


def bench_walk_step(simulations: int, batch: int, repeats: int, steps: int = 50) -> dict:
    """Microseconds of one lockstep step of the walk down, on a searched tree: with the Gumbel interior rule, and gathers alone.

    Both run `steps` steps for every lane of a `simulations`-simulation tree
    (an unexpanded child sends a lane back to the root); the difference is
    the rule's arithmetic, which the vmapped walk runs for every lane.
    """
    import mctx

    from do1rl.agents.mcts import MCTSConfig, floor_qtransform, make_mcts_policy
    from do1rl.envs.make import make

    env, params = make("do1rl/AlternatingCircuit-v0", depth=4, width=4, stop_action=True)
    config = MCTSConfig(simulations=simulations)
    policy = make_mcts_policy(env, params, config)
    _, states = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(jax.random.split(jax.random.key(0), batch), params)
    tree = jax.jit(policy.search)(jax.random.key(1), states).search_tree
    qtransform = mctx.qtransform_completed_by_mix_value
    qtransform = floor_qtransform(qtransform) if config.q_floor else qtransform
    rows = jnp.arange(batch)

    def walk(choose):
        def step(_, node):
            child = tree.children_index[rows, node, choose(node)]
            return jnp.where(child == mctx.Tree.UNVISITED, mctx.Tree.ROOT_INDEX, child)

        return jax.jit(lambda: jax.lax.fori_loop(0, steps, step, jnp.zeros(batch, jnp.int32)))

    rule = functools.partial(mctx.gumbel_muzero_interior_action_selection, qtransform=qtransform)
    runs = {
        "rule": walk(lambda node: jax.vmap(lambda t, n: rule(None, t, n, 1.0))(tree, node)),
        "gathers": walk(lambda node: jnp.argmax(tree.children_prior_logits[rows, node], axis=-1)),
    }
    t = side_by_side({k: lambda f=f: jax.block_until_ready(f()) for k, f in runs.items()}, repeats)
    return {"simulations": simulations, "batch": batch, **{f"{k}_us": 1e6 * v["median_s"] / steps for k, v in t.items()}}


def walk_lengths(parents: np.ndarray) -> dict:
    """Edges walked per search: per lane (mean), and in lockstep (each simulation's deepest lane, summed).

    Simulation i creates node i + 1, whose depth is the length of its walk down
    (and of its backup); a vmapped walk runs until the batch's deepest lane ends.
    """
    lanes, nodes = parents.shape
    depth = np.zeros((lanes, nodes), np.int64)
    for node in range(1, nodes):
        parent = parents[:, node]
        depth[:, node] = np.where(parent >= 0, depth[np.arange(lanes), np.maximum(parent, 0)] + 1, 0)
    return {"mean_walk_per_lane": float(depth[:, 1:].sum(1).mean()), "lockstep_walk": int(depth[:, 1:].max(0).sum())}


def run(report: dict, smoke: bool, repeats: int, log) -> dict:
    """Part 4's report entries: the search at each simulation budget, the walk step, the mctx ratios."""
    sims = (4,) if smoke else (16, 64, 256)
    batch = 8 if smoke else 256
    mcts = {str(n): bench_mcts(n, batch, repeats) for n in sims}
    out: dict = {"mcts": mcts}
    out["mcts_walk_step"] = step = bench_walk_step(4 if smoke else 64, batch, repeats)
    log(f"mcts walk step ({step['simulations']}-simulation trees): {step['rule_us']:.0f} us, gathers alone {step['gathers_us']:.0f} us")
    for n in (64, 256):
        if str(n) in mcts:
            out[f"mcts_vs_mctx_{n}"] = mcts[str(n)]["vs_mctx"]
    for r in mcts.values():
        log(
            f"mcts {r['simulations']} sims: {r['decisions_per_s']:,.0f} decisions/s vs mctx"
            f" {r['mctx_decisions_per_s']:,.0f} = {r['vs_mctx']:.2f}x (batch {r['batch']}),"
            f" compile {r['compile_s']:.1f}s, same actions {r['same_actions']}"
        )
    return out
