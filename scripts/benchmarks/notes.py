"""The targets each figure is judged against, and the fixed text the report prints beside them."""

from __future__ import annotations

# Targets (GitHub issue 6): key -> (description, predicate on the value).
TARGETS = {
    "solver_vs_numpy": (">= 5x (fastest solver path)", lambda v: v >= 5.0),
    "solver_vs_python": (">= 100x", lambda v: v >= 100.0),
    "solver_scaling": ("16 +- 30% (1k -> 16k gates: linear)", lambda v: 16 * 0.7 <= v <= 16 * 1.3),
    "env_steps_per_s": (">= 2,000,000", lambda v: v >= 2e6),
    "ppo_vs_sb3": (">= 50x", lambda v: v >= 50.0),
    "ppo_vs_rejax": (">= 1x", lambda v: v >= 1.0),
    "train_compile_s": ("< 30 s", lambda v: v < 30.0),
    # Issue 12: new paths against today's, side by side in one run.
    "mcts_vs_mctx_256": (">= 5x", lambda v: v >= 5.0),
    "mcts_vs_mctx_64": (">= 2.5x", lambda v: v >= 2.5),
    "rollout_partial_reset": (">= 2x", lambda v: v >= 2.0),
    "recurrent_vs_rolled": (">= 1.3x", lambda v: v >= 1.3),
    # Kept only if faster: a generator drawing its random words in one call, against one call per choice.
    "reset_one_call": (">= 1.05x", lambda v: v >= 1.05),
}


# How each peer's setup differs from do1rl's where it cannot be made equal (printed under its table).
PEER_DIFFERENCES = {
    "sb3": (
        "SB3 keeps separate policy and value MLPs (about twice the MLP arithmetic of do1rl's shared trunk); its"
        " rollout steps the Gymnasium envs one by one from Python (a jitted call and numpy copies per env step)."
    ),
    "rejax": (
        "Unavoidable differences: rejax 0.1.3 has separate actor and critic MLPs (twice the MLP arithmetic of do1rl's"
        " shared trunk) without LayerNorm or residuals, reads the raw observation flattened by `GymnaxAdapter`"
        " (do1rl's mlp builds its own features: one-hot gate types, scaled depths and wiring) and ignores the action"
        " mask (illegal actions are no-ops); its gradient clipping is per element (`optax.clip`), do1rl's by global"
        " norm. Both reset every env on every step (do1rl's `AutoReset(partial=False)`, the adapter's gymnax reset)."
    ),
}


# Why a target is missed (printed under the part when it is), from profiles of this code.
MISS_NOTES = {
    "mcts_vs_mctx_64": (
        "do1rl's search is faster than mctx's at every budget and by more as the tree grows (the table above),"
        " but its own time per simulation still grows with the tree (the simulations/s column falls several-fold"
        " from 16 to 256 simulations), so at 64 simulations it is short of 2.5x. The walk columns say why:"
        " the vmapped walk down and the backup run until each simulation's deepest lane is done, so the edges"
        " walked in lockstep grow much faster than any lane's own walk (deep lanes reach the env's horizon),"
        " while the time per lockstep edge stays of one size, most of it the selection rule's arithmetic (the"
        " walk-step line above). Flattening the time per simulation needs lanes that do not wait for each other"
        " (or a `max_depth` cap, which changes the search). Tried and dropped (measured in issue 12's closing note):"
        " gathering the whole backup in one loop, then one scatter per array (bitwise equal, barely faster); and"
        " keeping each node's interior action, recomputed only for the nodes a simulation changed, batched (a"
        " flat time per simulation, but slower below 256 simulations, and not bitwise: evaluated batched over"
        " nodes, the rule's floats differ slightly and near-ties break otherwise)."
    ),
    "solver_vs_numpy": (
        "Gather-bound: every path reads each gate's fan-in words with an element gather, which XLA CPU runs as a"
        " scalar loop per element, while NumPy's fancy indexing does the same reads per layer in C. The layer-major"
        " path has little else left (no per-step copies, selects or scatters; the gathers are about 80-90% of its"
        " loop, profiled on the 2-core machine), hence the few percent of memory bandwidth above. Under load the"
        " two-threaded XLA run loses more than single-threaded NumPy (see the load averages)."
    ),
    "solver_vs_python": "At this size the JAX call overhead per batch is not yet amortised.",
    "solver_scaling": "A ratio far from 16 means per-call overhead (below) or cache effects (above).",
    "env_steps_per_s": (
        "The vmapped step uses both cores; with other processes on the machine (see the load averages above)"
        " it drops roughly in proportion (an idle-machine run of the same step measured 2.12e6, commit 8f24714)."
    ),
    "ppo_vs_sb3": (
        "Where the rest goes (the phase table above; profiled on this config with XLA CPU traces and the compiled"
        " HLO): SB3's update is mostly its Python loop over the Gymnasium envs (a jitted do1rl step and numpy copies"
        " per env and step), its torch work at one thread a small share, so 50x leaves do1rl a fiftieth of that loop;"
        " do1rl's update phase alone, 16 sequential gradient steps of a 28k-parameter MLP on minibatches of 512, takes"
        " more than that (37 against 22 ms at load 4, 89 against 47 at load 7). The phase is bound by kernel count, not"
        " arithmetic (the whole PPO ran at 27 GFLOP/s, about a tenth of the matmul peak): one compiled gradient step is"
        " 318 fusions and 8 dots, about half of them the global-norm clip and Adam applied leaf by leaf over the 24"
        " parameter arrays. The rollout's env steps are nearly all"
        " resets: every env draws a fresh circuit on every step (about 4,000 XLA thunks per step; a reset costs some"
        " 20 plain steps, nearly all of it in the generator's random draws). What would close the gap: the one-call"
        " generator and resets only where episodes ended (bitwise the same; about 1.1x on this config when measured"
        " here, `PPO(partial_reset=True)`), and fewer, larger kernels in the update phase. Adam and the clip over one"
        " flat vector (`optax.flatten`) did not give them: its update phase overlapped the per-leaf one across repeats"
        " (issue 12's closing note)."
    ),
    "ppo_vs_rejax": (
        "The env code is the same on both sides (each resets every env on every step), so a miss is in the rollout's"
        " policy work (do1rl builds its features and masks its logits) or in the update phase (rejax: two networks"
        " without LayerNorm, elementwise clipping; do1rl: one trunk with LayerNorm, a global-norm clip and more"
        " metrics); the columns above say which."
    ),
    "train_compile_s": "XLA CPU compile time grows with the number of ops in the unrolled loss and update.",
    "recurrent_vs_rolled": (
        "What unrolling and the flat aggregation leave is mostly the block's Dense layers and elementwise"
        " work (see the recurrent family's fraction of matmul peak above): a vmapped gather is already one"
        " batched gather in XLA, so the flat one saves the copies and transposes around it rather than the"
        " gather itself."
    ),
    "reset_one_call": (
        "XLA CPU runs threefry as a rolled loop over the whole array of words, so once a batch's words"
        " outgrow the cache one big draw costs more per word than several small ones (see the table's"
        " larger batch); what the one draw saves is calls and words (only those a circuit uses)."
    ),
    "rollout_partial_reset": (
        "The ratio is bounded by the share of the step spent in resets: with few episodes ending per step"
        " the rollout is the env step, the action draw and the cond's copies of the env state."
    ),
}


def judge(report: dict) -> dict:
    """The report's "targets": each target's value, description and result (pass, miss, skipped, not run)."""
    judged = {}
    for key, (target, ok) in TARGETS.items():
        value = report.get(key)
        result = "not run" if key not in report else "skipped" if value is None else "pass" if ok(value) else "miss"
        judged[key] = {"value": value, "target": target, "result": result}
    return judged
