"""The report writer: docs/benchmarks.json as is, docs/benchmarks.md as tables with targets and notes."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from .notes import MISS_NOTES, PEER_DIFFERENCES


def write(report: dict, out: Path) -> None:
    """`out`/benchmarks.json and `out`/benchmarks.md of a full run."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmarks.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "benchmarks.md").write_text(markdown(report, MISS_NOTES))


def fmt(x: float) -> str:
    """A rate or count: thousands separated from 100 up, 3 significant digits below."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def target_rows(report: dict) -> list[str]:
    """The Targets table."""
    rows = ["| figure | measured | target | result |", "|---|---|---|---|"]
    for key, t in report["targets"].items():
        value = "skipped" if t["value"] is None else f"{t['value']:.3g}"
        rows.append(f"| `{key}` | {value} | {t['target']} | {t['result']} |")
    return rows


def markdown(report: dict, notes: dict[str, str]) -> str:
    """docs/benchmarks.md: the report as tables, each part with its targets and notes on misses."""
    m, v = report["machine"], report["versions"]
    sb3 = report["sb3"]
    ver = f"python {v['python']}, jax {v['jax']}, jaxlib {v['jaxlib']}, numpy {v['numpy']}"
    if "versions" in sb3:
        sv = sb3["versions"]
        ver += f", torch {sv['torch']}, stable-baselines3 {sv['stable_baselines3']}, sb3-contrib {sv['sb3_contrib']}"
    if "versions" in report.get("rejax", {}):
        rv = report["rejax"]["versions"]
        ver += f", rejax {rv['rejax']}, gymnax {rv['gymnax']}"
    t = report["targets"]

    def verdict(key: str) -> str:
        return f"Target `{key}` {t[key]['target']}: **{t[key]['result']}**." + (
            f" {notes[key]}" if t[key]["result"] == "miss" and key in notes else ""
        )

    lines = [
        "# do1rl benchmarks",
        "",
        (
            "Written by `python scripts/bench.py` (each figure the median of "
            f"{report['repeats']} timed runs after a warm-up run; min and max in docs/benchmarks.json;"
        ),
        "compile times are single measurements). Regenerate with `python scripts/bench.py`; the",
        'SB3 comparison needs `pip install -e ".[bench]"` (on a CPU-only machine install',
        "torch==2.13.0 first from `--index-url https://download.pytorch.org/whl/cpu`), the rejax",
        'comparison `pip install -e ".[gymnax]"`. One area alone, printed and not written:',
        "`python scripts/bench.py --parts solver` (areas solver, env, training, peers, mcts, compile, or part",
        "numbers 1-5; `--help` lists them; `python -m benchmarks` from `scripts/` is the same).",
        "",
        (
            f"Machine: {m['platform']}, {m['processor']}, {m['cpu_count']} cores, device {m['device']}"
            f" (backend {m['backend']}). Load average before the run: {m['load_before']}, after: {m['load_after']}."
        ),
        f"Versions: {ver}.",
        "",
        "## Targets",
        "",
        *target_rows(report),
        "",
        "## 1. Solver (batch of random alternating circuits, depth 64)",
        "",
        (
            "Paths, timed side by side with NumPy: `layer_major` (`solve_batch` on circuits with a layout),"
            " `generic` (`solve_batch` without one) and `vmap_chunked` (`vmap(solve_chunked)`, the path before"
            " layouts); all three give bitwise the same `Solution`. Bandwidth: bytes of node_type, fanin and depth"
            f" per second as a share of {report['memory_bandwidth']['bytes_per_s'] / 1e9:.1f} GB/s, the read rate of a"
            f" jitted max over {report['memory_bandwidth']['megabytes']} MB in the same run."
        ),
        "",
        "| gates | batch | path | gate-evals/s | vs NumPy | vs vmap_chunked | of memory bandwidth | compile s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in report["solver"].values():
        for name, p in s["paths"].items():
            lines.append(
                f"| {s['gates']} | {s['batch']} | {name} | {p['gate_evals_per_s']:.3g} | {p['vs_numpy']:.1f}x "
                f"| {p['vs_vmap_chunked']:.2f}x | {100 * p['bandwidth_fraction']:.1f}% | {p['compile_s']:.2f} |"
            )
    lines += [
        "",
        "| gates | batch | fastest path | NumPy level-by-level | plain Python | fastest vs Python | agree |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in report["solver"].values():
        lines.append(
            f"| {s['gates']} | {s['batch']} | {s['fastest']} | {s['numpy_gate_evals_per_s']:.3g} "
            f"| {s['python_gate_evals_per_s']:.3g} | {s['vs_python']:.0f}x | {s['agree']} |"
        )
    e = report["env"]
    lines += [
        "",
        f"Scaling 1k -> 16k gates (fastest path): time ratio {report['solver_scaling']:.1f} (16 would be linear).",
        "",
        verdict("solver_vs_numpy"),
        verdict("solver_vs_python"),
        verdict("solver_scaling"),
        "",
        "## 2. Environment (DO1, uniform random legal actions, vmapped step inside lax.scan, observations materialised)",
        "",
        "| envs | nodes | steps per run | env steps/s | compile s |",
        "|---|---|---|---|---|",
        f"| {e['num_envs']} | {e['nodes']} | {e['steps']} | {e['env_steps_per_s']:.3g} | {e['compile_s']:.2f} |",
        "",
        verdict("env_steps_per_s"),
        "",
        *rollout_lines(report.get("rollout")),
        *reset_one_call_lines(report.get("resets")),
        *([verdict("reset_one_call"), ""] if "reset_one_call" in report else []),
        "## 3. Training (PPO env-steps/s, rollouts and updates included)",
        "",
    ]
    first = next(iter(report["training"].values()))
    env_args = ", ".join(f"{k}={v}" for k, v in first["env"].items() if k != "id")
    lines += [
        (
            f"{first['env']['id']} ({env_args}); {first['num_envs']} envs x {first['num_steps']} steps per update,"
            f" {first['update_epochs']} epochs of {first['num_minibatches']} minibatches;"
            f" {first['updates_per_run']} updates per timed run (one jitted call)."
        ),
        "",
        "| family | network | parameters | env-steps/s | compile s | GFLOP/s | of matmul peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["training"].values():
        n = r["network"]
        size = f"width {n['width']}" + ("" if r["family"] == "recurrent" else f", depth {n['depth']}")
        gf, frac = r.get("gflops_per_s"), r.get("fraction_of_matmul_peak")
        lines.append(
            f"| {r['family']} | {size} | {r['parameters']:,} | {fmt(r['env_steps_per_s'])} | {r['compile_s']:.1f} "
            f"| {'-' if gf is None else f'{gf:.2f}'} | {'-' if frac is None else f'{100 * frac:.1f}%'} |"
        )
    peak = report.get("matmul_peak")
    if peak:
        lines += [
            "",
            (
                f"Matmul peak: a {peak['size']}^3 float32 matmul ran at {peak['gflops_per_s']:.1f} GFLOP/s in the same run."
                " A family's GFLOP/s is estimated from XLA's cost analysis of one network apply (the recurrent block"
                " counted T(obs) times) x batch x (1 forward + 3 x update epochs for forward and backward)."
            ),
        ]
    cheaper = {f: r["without_means"]["ratio"] for f, r in report["training"].items() if r.get("without_means")}
    if cheaper:
        lines += [
            "",
            (
                "Dropping the blocks' mean aggregates (`network.mean_aggregates: false`), side by side with the"
                " default: " + ", ".join(f"{f} {v:.2f}x" for f, v in cheaper.items()) + " the env-steps/s."
                " Whether the ratio holds: docs/design/networks.md."
            ),
        ]
    if "recurrent_vs_rolled" in report:
        rolled = report["training"]["recurrent"]["vs_rolled"]
        lines += [
            "",
            (
                f"Recurrent PPO against today's path (rolled `nn.scan`, edge bookkeeping every iteration, vmapped"
                f" over observations, a reset for every env), side by side: **{report['recurrent_vs_rolled']:.2f}x**;"
                f" the flat aggregation's own share (against the unrolled loop vmapped over observations):"
                f" {rolled['flat_vs_unrolled']:.2f}x."
            ),
            "",
            verdict("recurrent_vs_rolled"),
        ]
    lines += ["", "### do1rl PPO against Stable-Baselines3 MaskablePPO (same env, same sizes)", ""]
    if "skipped" in sb3:
        lines += [f"Skipped: {sb3['skipped']}.", ""]
    else:
        mlp = report["training"]["mlp"]
        lines += [
            "| learner | network | env-steps/s |",
            "|---|---|---|",
            (
                f"| do1rl PPO (JAX, one jitted call per run) | mlp: {1 + mlp['network']['depth']} x {mlp['network']['width']}"
                f" shared trunk, LayerNorm, residual | {fmt(mlp['env_steps_per_s'])} |"
            ),
            (
                f"| SB3 MaskablePPO (torch, {sb3_threads(sb3)}, DummyVecEnv of {sb3['num_envs']} Gymnasium envs)"
                f" | pi {sb3['net_arch']['pi']}, vf {sb3['net_arch']['vf']}, {sb3['activation']} | {fmt(sb3['env_steps_per_s'])} |"
            ),
            "",
            (
                f"Ratio do1rl / SB3: **{report['ppo_vs_sb3']:.1f}x**. Both use rollouts of {sb3['num_steps']} steps"
                f" x {sb3['num_envs']} envs, minibatches of {sb3['batch_size']}, {sb3['n_epochs']} epochs. {PEER_DIFFERENCES['sb3']}"
            ),
            "",
            *phase_lines(mlp, sb3),
        ]
    lines += [verdict("ppo_vs_sb3"), "", *rejax_lines(report.get("rejax")), verdict("ppo_vs_rejax"), ""]
    lines += ["## 4. MCTS (mctx on the true env model, uniform priors)", ""]
    first = next(iter(report["mcts"].values()))
    env_args = ", ".join(f"{k}={v}" for k, v in first["env"].items() if k != "id")
    lines += [
        (
            f"{first['env']['id']} ({env_args}), Gumbel MuZero search (default `MCTSConfig`), batch {first['batch']};"
            " do1rl's search (`do1rl.agents.search`, small search nodes) and mctx's (`policy.search_mctx`, full"
            " `EnvState` embeddings) timed side by side; their trees are bitwise equal (tests/test_search.py)."
        ),
        "",
        (
            "Walks: edges walked down (and backed up) per search, summed over simulations: per lane on average,"
            " and in lockstep (each simulation's deepest lane, which the vmapped walk waits for)."
        ),
        "",
        "| simulations | decisions/s | mctx decisions/s | ratio | simulations/s | walk per lane | lockstep walk"
        " | us per lockstep edge | compile s | same actions |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["mcts"].values():
        per_edge = 1e6 * r["time"]["median_s"] / max(r["lockstep_walk"], 1)
        lines.append(
            f"| {r['simulations']} | {fmt(r['decisions_per_s'])} | {fmt(r['mctx_decisions_per_s'])} "
            f"| {r['vs_mctx']:.2f}x | {fmt(r['simulations_per_s'])} | {r['mean_walk_per_lane']:.0f} | {r['lockstep_walk']}"
            f" | {per_edge:.0f} | {r['compile_s']:.1f} | {r['same_actions']} |"
        )
    step = report.get("mcts_walk_step")
    if step:
        lines += [
            "",
            (
                f"One lockstep step of the walk down (batch {step['batch']}, {step['simulations']}-simulation trees,"
                f" `bench_walk_step`): {step['rule_us']:.0f} us with the Gumbel interior rule, {step['gathers_us']:.0f} us"
                " for its gathers alone; the rest is the rule's arithmetic, which the vmapped walk runs for every lane,"
                " those already at their leaf included."
            ),
        ]
    lines += ["", *(verdict(k) for k in ("mcts_vs_mctx_64", "mcts_vs_mctx_256") if k in t)]
    mcts = list(report["mcts"].values())
    for a, b in itertools.pairwise(mcts):
        grow = a["decisions_per_s"] / b["decisions_per_s"]
        sims = b["simulations"] / a["simulations"]
        if grow > 1.5 * sims:
            lines += [
                "",
                (
                    f"{a['simulations']} -> {b['simulations']} simulations costs {grow:.0f}x the time"
                    f" (simulations x{sims:.0f}): the time per simulation grows with the lockstep walk, so the"
                    " issue's aim of a flat time per simulation is not met (see the walk columns and the"
                    " `mcts_vs_mctx_64` note)."
                ),
            ]
            break
    c = report["train_compile"]
    lines += [
        "",
        "## 5. Compile time of the default training config",
        "",
        (
            f"`{c['config']}` ({c['network']['family']} network, width {c['network']['width']}): lowering and compiling"
            f" `Trainer.run_chunk` for a chunk of {c['updates_per_chunk']} updates took **{c['compile_s']:.1f} s**."
        ),
        "",
        verdict("train_compile_s"),
        "",
    ]
    if report.get("notes"):
        lines += ["## Notes", "", *[f"- {n}" for n in report["notes"]], ""]
    return "\n".join(lines)


def sb3_threads(sb3: dict) -> str:
    """ "N thread(s)", with the other thread count's rate when both were run."""
    best = sb3["torch_threads"]
    others = [f"{n}: {fmt(r['env_steps_per_s'])} env-steps/s" for n, r in sb3.get("by_threads", {}).items() if int(n) != best]
    return f"{best} thread{'s' if best > 1 else ''}" + (f" (the faster; {', '.join(others)})" if others else "")


def phase_lines(mlp: dict, sb3: dict) -> list[str]:
    """Part 3's table of where do1rl's and SB3's time per update goes, and what 50x would ask of do1rl."""
    d, b = mlp["phases"]["per_update_s"], sb3["phases"]["per_update_s"]
    ms = lambda x: f"{1e3 * x:.1f}"
    sb3_whole = b["rollout"] + b["train"]
    steps = mlp["num_envs"] * mlp["num_steps"]
    return [
        f"Where the time of one update ({steps:,} env steps) goes, ms (do1rl: its pieces compiled and timed side by side;"
        " SB3: timers around its methods during the timed runs):",
        "",
        "| phase | do1rl | SB3 |",
        "|---|---|---|",
        f"| env steps, auto-reset included (SB3: `VecEnv.step`) | {ms(d['env_steps'])} | {ms(b['env_steps'])} |",
        f"| action masks (SB3: `env_method`; do1rl: part of the observation) | - | {ms(b['action_masks'])} |",
        f"| policy in the rollout (forward, sampling, bookkeeping) | {ms(d['policy'])} | {ms(b['policy'])} |",
        f"| update: forward (`evaluate_actions`) | - | {ms(b['train_forward'])} |",
        f"| update: backward, Adam, batching (SB3: Adam alone {ms(b['adam'])}) | - | {ms(b['backward_and_rest'] + b['adam'])} |",
        f"| update phase in all (GAE, shuffling, {mlp['update_epochs']} x {mlp['num_minibatches']} gradient steps)"
        f" | {ms(d['update'])} | {ms(b['train'])} |",
        f"| whole update | {ms(d['whole'])} | {ms(sb3_whole)} |",
        "",
        (
            f"SB3 spends {1e6 * b['env_steps'] / steps:.0f} us per Gymnasium env step. 50x SB3's rate would leave do1rl"
            f" {ms(sb3_whole / 50)} ms per update; its update phase alone takes {ms(d['update'])} ms and its env steps"
            f" {ms(d['env_steps'])} ms."
        ),
        "",
    ]


def rejax_lines(peer: dict | None) -> list[str]:
    """Part 3's do1rl-vs-rejax table (or the reason it was skipped)."""
    lines = ["### do1rl PPO against rejax PPO (same env through `GymnaxAdapter`, same sizes)", ""]
    if not peer:
        return lines + ["Not run.", ""]
    if "skipped" in peer:
        return lines + [f"Skipped: {peer['skipped']}.", ""]
    d, r = peer["do1rl"], peer["rejax"]
    ms = lambda x: f"{1e3 * x:.1f}"
    hidden = peer["hidden_layer_sizes"]
    row = lambda name, net, x: (
        f"| {name} | {net} | {x['parameters']:,} | {fmt(x['env_steps_per_s'])} | {ms(x['per_update_s']['rollout'])}"
        f" | {ms(x['per_update_s']['update'])} | {x['compile_s']:.1f} |"
    )
    return lines + [
        "| learner | network | parameters | env-steps/s | rollout ms/update | update phase ms/update | compile s |",
        "|---|---|---|---|---|---|---|",
        row("do1rl PPO", f"mlp: {len(hidden)} x {hidden[0]} shared trunk, LayerNorm, residual", d),
        row(f"rejax PPO {peer['versions']['rejax']}", f"actor {hidden}, critic {hidden}, swish", r),
        "",
        (
            f"Ratio do1rl / rejax, side by side: **{peer['ratio']:.2f}x**. Both: {peer['num_envs']} envs x"
            f" {peer['num_steps']} steps per update, {peer['update_epochs']} epochs of {peer['num_minibatches']} minibatches,"
            f" {peer['updates_per_run']} updates per compiled call, compile time excluded; rollout alone timed alongside."
            f" {PEER_DIFFERENCES['rejax']}"
        ),
        "",
    ]


def rollout_lines(roll: dict | None) -> list[str]:
    """Part 2's auto-reset rollout table (resets only where episodes ended vs for every env)."""
    if not roll:
        return []
    e, rate = roll["env"], roll["env_steps_per_s"]
    return [
        (
            f"### Rollouts with auto-reset: DO1 depth {e['depth']}, width {e['width']}, {roll['num_envs']} envs x"
            f" {roll['steps']} steps, random legal actions ({roll['episodes_ended']} episodes ended)"
        ),
        "",
        "| reset | env-steps/s |",
        "|---|---|",
        f"| only the envs that finished (`AutoReset.step_batch`) | {fmt(rate['partial'])} |",
        f"| every env, every step (`AutoReset(env, partial=False)`) | {fmt(rate['full'])} |",
        "",
        f"Ratio: **{roll['ratio']:.2f}x**. Target `rollout_partial_reset` >= 2x.",
        "",
    ]


def reset_one_call_lines(resets: dict | None) -> list[str]:
    """Part 2's reset table: the generator drawing its words in one call against one call per choice."""
    if not resets:
        return []
    e = resets["env"]
    lines = [
        (
            f"### Batched resets: DO1 depth {e['depth']}, width {e['width']} (`jit(vmap(env.reset))`), generator drawing"
            " its random words in one `jax.random.bits` call vs one `jax.random` call per choice"
        ),
        "",
        "| envs | resets/s, one call | resets/s, per call | reset ratio | generator alone ratio |",
        "|---|---|---|---|---|",
    ]
    for batch, r in resets.items():
        if batch != "env":
            rate = r["resets_per_s"]
            lines.append(
                f"| {batch} | {fmt(rate['one_call'])} | {fmt(rate['per_call'])} | {r['ratio']:.2f}x | {r['generator_ratio']:.2f}x |"
            )
    return [*lines, ""]
