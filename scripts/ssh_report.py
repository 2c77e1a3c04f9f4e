"""Writes the serial-scaling report (docs/results.md) from the four sweeps of reproduce_ssh.sh.

    python scripts/ssh_report.py runs/ssh --figures docs/figures --out docs/results.md --elapsed 1234

Numbers are means over seeds of the "all" rows of each sweep's results.json.
The verdict lines are computed from the numbers by fixed rules (stated in
the report), so a rerun that disagrees with the paper says so.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections import defaultdict
from pathlib import Path

from do1rl.experiments.sweep import read_results

DROP = 0.05  # a ratio drop larger than this, shallowest -> deepest circuit, counts as degrading


def mean(xs):
    xs = [float(x) for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else float("nan")


def load(runs: Path, name: str) -> list[dict]:
    path = runs / name / "results.json"
    return [r for r in read_results(path) if r.get("depth_group") == "all"] if path.exists() else []


def agent_label(r) -> str:
    a = r["agent"]
    if a in ("mlp", "gnn"):
        return f"{a} (depth {r['network_depth']}, width {r['network_width']})"
    if a == "recurrent":
        return f"recurrent (width {r['network_width']}, T = D + 1)"
    if a == "mcts":
        return f"mcts ({r['simulations']} sims)"
    return a


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def fmt(x, spec=".3f"):
    return "n/a" if x is None or x != x else format(x, spec)


def families_section(rows):
    if not rows:
        return ["(families sweep missing)"], None
    depths = sorted({int(r["circuit_depth"]) for r in rows})
    by = defaultdict(list)
    info = {}
    for r in rows:
        by[(agent_label(r), int(r["circuit_depth"]))].append(r["mean_ratio"])
        info.setdefault(agent_label(r), (r["agent"], r))
    labels = sorted(info, key=lambda name: ("mlp", "gnn", "recurrent", "mcts", "greedy", "random", "oracle").index(info[name][0]))
    body = []
    verdict = {}
    for label in labels:
        ratios = [mean(by[(label, d)]) for d in depths]
        body.append([label] + [fmt(x) for x in ratios])
        verdict[info[label][0]] = ratios[0] - ratios[-1]
    acct = defaultdict(dict)
    for r in rows:
        acct[agent_label(r)][int(r["circuit_depth"])] = r
    acc_rows = []
    for label in labels:
        rs = acct[label]
        serial = ", ".join(f"{rs[d]['serial_depth']}" if rs.get(d) and rs[d].get("serial_depth") is not None else "-" for d in depths)
        flops = ", ".join(f"{rs[d]['flops_per_decision']:.3g}" if rs.get(d) and rs[d].get("flops_per_decision") else "-" for d in depths)
        params = rs[depths[-1]].get("param_count") if rs.get(depths[-1]) else None
        acc_rows.append([label, f"{int(params):,}" if params else "0", serial, flops])
    lines = [
        "Mean approximation ratio r / r* by circuit depth D (AlternatingCircuit with STOP):",
        "",
        table(["agent"] + [f"D = {d}" for d in depths], body),
        "",
        "Per-decision accounting (at D = " + ", ".join(map(str, depths)) + "):",
        "",
        table(["agent", "parameters", "serial depth", "FLOPs / decision"], acc_rows),
    ]
    return lines, verdict


def deep_wide_section(rows):
    if not rows:
        return ["(deep_wide sweep missing)"]
    agg = defaultdict(list)
    for r in rows:
        agg[(int(r["network_depth"]), int(r["network_width"]))].append(r)
    body = []
    for (d, w), rs in sorted(agg.items()):
        body.append([d, w, f"{int(rs[0]['param_count']):,}", rs[0]["serial_depth"], fmt(mean(r["mean_ratio"] for r in rs)),
                     fmt(mean(r["mean_regret"] for r in rs))])
    cd = rows[0]["circuit_depth"]
    header = ["blocks", "width", "parameters", "serial depth", "mean ratio", "mean regret"]
    return [f"GNN on circuits of depth {cd}:", "", table(header, body)]


def mcts_section(rows):
    if not rows:
        return ["(mcts sweep missing)"]
    depths = sorted({int(r["circuit_depth"]) for r in rows})
    sims = sorted({int(r["simulations"]) for r in rows})
    by = {(int(r["circuit_depth"]), int(r["simulations"])): r for r in rows}
    body = []
    for s in sims:
        row = [s]
        for d in depths:
            r = by.get((d, s))
            row.append(f"{fmt(r['mean_ratio'])} / {fmt(r['mean_regret'])}" if r else "-")
        body.append(row)
    return ["MCTS (uniform prior, true model), mean ratio / mean regret:", "",
            table(["simulations"] + [f"D = {d}" for d in depths], body)]


def horizon_section(rows):
    if not rows:
        return ["(horizon sweep missing)"], {}
    hs = sorted({int(r["horizon"]) for r in rows})
    chain = {int(r["horizon"]): int(r["prefix_chain"]) for r in rows}
    by = defaultdict(list)
    labels = []
    for r in rows:
        by[(agent_label(r), int(r["horizon"]))].append(r)
        if agent_label(r) not in labels:
            labels.append(agent_label(r))
    body = []
    slope = {}
    for label in labels:
        regrets = [mean(r["mean_regret"] for r in by[(label, h)]) for h in hs]
        ratios = [mean(r["mean_ratio"] for r in by[(label, h)]) for h in hs]
        body.append([label] + [f"{fmt(x, '.2f')} ({fmt(y, '.2f')})" for x, y in zip(regrets, ratios)])
        slope[label] = (regrets[-1] - regrets[0]) / (hs[-1] - hs[0])
    return ["Mean regret (mean ratio) by horizon H; chain length L = " + ", ".join(f"{chain[h]}" for h in hs) + ":", "",
            table(["agent"] + [f"H = {h}" for h in hs], body)], slope


def main():
    p = argparse.ArgumentParser()
    p.add_argument("runs", type=Path)
    p.add_argument("--figures", type=Path, default=Path("docs/figures"))
    p.add_argument("--out", type=Path, default=Path("docs/results.md"))
    p.add_argument("--elapsed", type=float)
    p.add_argument("--command", default="bash scripts/reproduce_ssh.sh")
    args = p.parse_args()

    fam, verdict = families_section(load(args.runs, "families"))
    hor, slope = horizon_section(load(args.runs, "horizon"))
    rel = os.path.relpath(args.figures, args.out.parent)
    figures = [f for f in ("families_vs_depth", "deep_vs_wide", "mcts_budget", "horizon") if (args.figures / f"{f}.png").exists()]
    load1, load5, load15 = os.getloadavg()
    lines = [
        "# Serial-scaling experiments: results",
        "",
        f"Generated by `{args.command}` on {time.strftime('%Y-%m-%d')}: "
        f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPU cores, "
        f"load average at the end {load1:.1f} / {load5:.1f} / {load15:.1f} (1 / 5 / 15 min), "
        f"wall time {fmt((args.elapsed or float('nan')) / 60, '.1f')} min for the four sweeps and the figures.",
        "Raw tables: `" + str(args.runs) + "/<sweep>/results.csv` (one row per cell, seed and circuit depth; not committed).",
        "",
        "The prediction under test (paper, Appendix G and Figure 6a): agents of fixed serial depth per",
        "decision (mlp, gnn) degrade as circuit depth grows, while serial agents (a recurrent GNN whose",
        "iterations grow with depth, and MCTS on the true model) do not.",
        "",
        "## 1. Families vs circuit depth",
        "",
        *fam,
        "",
    ]
    if verdict:
        lines.append(f"Rule: an agent *degrades* if its mean ratio drops by more than {DROP} from the shallowest to the deepest circuit.")
        lines.append("")
        for agent, drop in verdict.items():
            word = "degrades" if drop > DROP else "does not degrade"
            lines.append(f"- {agent}: ratio change shallowest -> deepest {-drop:+.3f}: {word}.")
        fixed = [a for a in ("mlp", "gnn") if a in verdict]
        serial = [a for a in ("recurrent", "mcts") if a in verdict]
        fixed_ok = all(verdict[a] > DROP for a in fixed)
        serial_ok = all(verdict[a] <= DROP for a in serial)
        lines += ["", "**Verdict:** " + (
            "matches the prediction: the fixed-depth agents degrade and the serial agents do not."
            if fixed_ok and serial_ok else
            "does not fully match the prediction: "
            + ("; ".join(
                ([f"fixed-depth {', '.join(a for a in fixed if verdict[a] <= DROP)} did not degrade"] if not fixed_ok else [])
                + ([f"serial {', '.join(a for a in serial if verdict[a] > DROP)} degraded"] if not serial_ok else [])
            )) + " (see the caveats below)."), ""]
    lines += ["## 2. Deep vs wide", "", *deep_wide_section(load(args.runs, "deep_wide")), "",
              "## 3. MCTS simulations", "", *mcts_section(load(args.runs, "mcts")), "",
              "## 4. Horizon on chain-prefixed circuits", "", *hor, ""]
    if slope:
        lines.append("Regret slope per unit of horizon (last minus first H): "
                     + ", ".join(f"{k} {v:+.3f}" for k, v in slope.items()) + ".")
        lines.append("")
    lines += ["## Figures", ""] + [f"![{f}]({rel}/{f}.png)" for f in figures] + [""]
    lines += [
        "## Caveats",
        "",
        "- CPU-sized budgets: 33k-197k PPO env steps per cell (see configs/sweep_*.yaml), one seed, 256 evaluation",
        "  episodes; differences of a few hundredths are within run-to-run noise. The GPU configuration",
        "  (`bash scripts/reproduce_ssh.sh --gpu`) trains 12x longer with 3 seeds on deeper circuits.",
        "- A small network that has not finished learning also \"degrades\" with depth, since deeper",
        "  circuits are harder to learn in a fixed budget; failure to learn and a capacity limit look alike here.",
        "- MCTS uses the true model and exact terminal rewards, so it is an upper reference, not a learned agent.",
        "- Why the fixed-depth gnn held up (issue 11's measurements, only the 17% rerun here; docs/hard-instances.md): not local",
        "  shortcuts from input reads, since only 17% of the D = 6 circuits have d1 settled within 3 fan-in",
        "  hops (cert(d1) <= 3, `python scripts/cert_depth_table.py`). It is the scratchpad: with STOP, the",
        "  3-block GNN selects 4.1 gates per episode (7.7 on hard ones), and 98.6% of its selections are",
        "  settled within 3 hops once its own earlier selections count as known 1s (53% from the inputs",
        "  alone). Serial depth per decision is fixed, but serial depth per episode grows with the number of",
        "  decisions, so this experiment cannot separate serial from parallel agents. The test of Theorem",
        "  G.2 needs one-shot play (`max_selections=1`) or DO1's forced choice, on instances whose proof is",
        "  as deep as the circuit (the biregular family, `configs/sweep_hard.yaml`).",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
