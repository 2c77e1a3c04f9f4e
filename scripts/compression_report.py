"""The compression report (issue 23): students of expert iteration against the bar and their ceilings, and the
compute frontier, from a compression sweep's results.

    python scripts/compression_report.py runs/ssh/compression [--out FILE --results-md FILE --elapsed S --figures DIR]

Verdicts follow docs/results.md: an interval "above" another lies wholly above
it (the intervals do not overlap), "under" wholly below, else "at". The bar at
a test depth is the best of the constant, greedy and random policies and the
prior-only (L = 0) ceiling on the same episodes. A student is "learned" only
when its ratio lies above the bar at every training depth it is tested on;
a fixed-depth gnn of L blocks is also set against its own L-block ceiling (the
best any L-block message-passing policy can expect on those episodes).

Markdown on stdout, or with --out the whole report; --results-md also writes
its tables into that file's compression section (docs/results.md).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

import report_sections
import ssh_report as ssh
from ssh_report import interval, show, table

from do1rl.evaluation.stats import Interval, lies_below
from do1rl.experiments.frontier import FRONTIER_DEPTH, beaten_by, frontier_points, point_label, series_label
from do1rl.experiments.plotting import number
from do1rl.experiments.sweep import read_results

SECTION = "compression"
METRIC = "decisive_accuracy_L3"


def students(rows: list[dict]) -> dict[str, dict[int, dict]]:
    """{label: {test depth: pooled row}} of every trained cell as trained (no forced T), in table order."""
    out: dict[str, dict[int, dict]] = {}
    for r in sorted(
        ssh.pooled(rows), key=lambda r: (ssh.rank(r), number(r.get("network_depth")) or 0, number(r.get("network_width")) or 0)
    ):
        if ssh.trained(r) and ssh.trained_rule(r) and number(r.get("test_depth")) is not None:
            out.setdefault(student_label(r), {})[int(number(r["test_depth"]))] = r
    return out


def student_label(r: dict) -> str:
    hints = (number(r.get("config.train.expert_iteration.aux_coef")) or 0) > 0
    return ssh.label(r) + (", hints" if hints else "")


def bars(rows: list[dict]) -> dict[int, tuple[str, Interval]]:
    """{test depth: (name, ratio interval)} of the best trivial policy (the prior-only ceiling included)."""
    agents: dict[str, dict[int, dict]] = {}
    for r in ssh.pooled(rows):
        if r["agent"] in ssh.TRIVIAL and number(r.get("test_depth")) is not None:
            agents.setdefault(ssh.label(r), {})[int(number(r["test_depth"]))] = r
    depths = sorted({d for by in agents.values() for d in by})
    by_depth = {d: [r for r in ssh.pooled(rows) if number(r.get("test_depth")) == d] for d in depths}
    prior = ssh.prior_ceiling(by_depth, {})
    return {d: best for d in depths if (best := ssh.best_trivial(agents, prior, d)) is not None}


def where(ours: Interval | None, other: Interval | None) -> str:
    if ours is None or other is None:
        return "n/a"
    return "above" if lies_below(other, ours) else "under" if lies_below(ours, other) else "at"


def own_ceiling(r: dict) -> tuple[int, Interval] | None:
    """(L, the L-block ceiling's expected ratio on these episodes): a gnn's own L; for a serial student the L = 3
    ceiling (which it may pass); None for an mlp (no block count binds it)."""
    if r["agent"] in ssh.FIXED_DEPTH:
        blocks = ssh.own_blocks(r)
    else:
        blocks = ssh.DECISIVE_L
    found = None if blocks is None else interval(r, f"ceiling_ratio_L{blocks}")
    return None if found is None else (blocks, found)


def compression_table(rows: list[dict]) -> list[str]:
    bar = bars(rows)
    body = []
    for name, by_depth in students(rows).items():
        for depth, r in sorted(by_depth.items()):
            ours, best = interval(r), bar.get(depth)
            ceiling = own_ceiling(r)
            body.append(
                [
                    name,
                    depth,
                    show(ours),
                    show(interval(r, METRIC)),
                    "n/a" if best is None else f"{best[0]} {show(best[1])}",
                    "—" if ceiling is None else f"L = {ceiling[0]}: {show(ceiling[1])} ({where(ours, ceiling[1])})",
                    "n/a" if best is None else where(ours, best[1]),
                ]
            )
    header = [
        "student",
        "D",
        "ratio [95% CI]",
        "decisive accuracy, L = 3 [95% CI]",
        "bar: best trivial (ratio)",
        "L-block ceiling (ratio): a gnn's own L, else L = 3 (student vs it)",
        "student vs bar",
    ]
    return [table(header, body)]


def verdicts(rows: list[dict], train: list[int]) -> list[str]:
    bar = bars(rows)
    out = []
    for name, by_depth in students(rows).items():
        tested = [d for d in train if d in by_depth]
        learned = bool(tested) and all(d in bar and lies_below(bar[d][1], interval(by_depth[d])) for d in tested)
        beyond = [d for d in sorted(by_depth) if d not in train]
        parts = [
            f"D = {d}: {where(interval(by_depth[d]), bar[d][1] if d in bar else None)} the bar "
            f"({number(by_depth[d]['mean_ratio']):.3f} vs {bar[d][1].mean:.3f})"
            for d in beyond
            if d in bar
        ]
        against = {d: (where(interval(r), c[1]), c[0]) for d, r in sorted(by_depth.items()) if (c := own_ceiling(r)) is not None}
        whose = "its" if next(iter(by_depth.values()))["agent"] in ssh.FIXED_DEPTH else "the"
        if len(set(against.values())) == 1:
            ((side, blocks),) = set(against.values())
            ceilings = [f"{side} {whose} L = {blocks} ceiling at every test depth"]
        else:
            ceilings = [f"D = {d}: {side} {whose} L = {blocks} ceiling" for d, (side, blocks) in against.items()]
        if not learned:
            why = "not learned (its ratio does not lie above the bar at every training depth), so not evidence"
        else:
            why = "learned (above the bar at D = " + ", ".join(str(d) for d in tested) + ")"
        out.append(
            f"- **{name}**: {why}; beyond the training depths: "
            + ("; ".join(parts) or "not tested")
            + (f"; {'; '.join(ceilings)}" if ceilings else "")
            + "."
        )
    return out


def frontier_table(rows: list[dict], depth: int = FRONTIER_DEPTH) -> list[str]:
    points = frontier_points(rows, depth)
    if not points:
        return [f"(no agent with a FLOPs count at D = {depth})"]
    bar = bars(rows).get(depth)
    body = []
    for p in points:
        winner = beaten_by(p, points)
        body.append(
            [
                series_label(p),
                point_label(p),
                f"{number(p['flops_per_decision']):.2e}",
                int(number(p["serial_depth"])),
                show(interval(p)),
                show(interval(p, METRIC)),
                "n/a" if bar is None else where(interval(p), bar[1]),
                "on the frontier" if winner is None else f"{series_label(winner)} {point_label(winner)}",
            ]
        )
    header = [
        "agent",
        "size",
        "FLOPs per decision",
        "serial depth",
        "ratio [95% CI]",
        "decisive accuracy, L = 3 [95% CI]",
        "vs bar",
        "beaten at <= its FLOPs by (ratio)",
    ]
    return [table(header, body)]


def _against(p: dict, others: list[dict], kind: str) -> str:
    """`p` against the best of `others` at <= its FLOPs (by mean ratio)."""
    flops = number(p["flops_per_decision"])
    cheaper = [q for q in others if number(q["flops_per_decision"]) <= flops]
    head = f"- {series_label(p)} {point_label(p)} ({flops:.2e} FLOPs, serial depth {int(number(p['serial_depth']))}): "
    if not cheaper:
        return head + f"{show(interval(p))}; no {kind} student at <= its FLOPs."
    q = max(cheaper, key=lambda q: number(q["mean_ratio"]))
    return (
        head + f"{show(interval(p))} vs the best {kind} student at <= its FLOPs, {series_label(q)} {point_label(q)} "
        f"({number(q['flops_per_decision']):.2e}, serial depth {int(number(q['serial_depth']))}): "
        f"{show(interval(q))}; it is {where(interval(p), interval(q))} it."
    )


def frontier_verdicts(rows: list[dict], depth: int = FRONTIER_DEPTH) -> list[str]:
    """Which wins at equal FLOPs: each student against the best student of the other kind at <= its FLOPs; MCTS apart."""
    points = frontier_points(rows, depth)
    students = [p for p in points if ssh.trained(p)]
    fixed = [p for p in students if p["agent"] in ssh.FIXED_DEPTH]
    serial = [p for p in students if p["agent"] not in ssh.FIXED_DEPTH]
    out = ["Each fixed-depth student against the best serial student at <= its FLOPs:", ""]
    out += [_against(p, serial, "serial") for p in fixed] or ["- (no fixed-depth student)"]
    out += ["", "Each serial student (as trained, and at each forced T) against the best fixed-depth student at <= its FLOPs:", ""]
    out += [_against(p, fixed, "fixed-depth") for p in serial] or ["- (no serial student)"]
    if any(p["agent"] == "mcts" for p in points):
        out += [
            "",
            "MCTS is left out of this comparison: its FLOPs are those of its env-model steps, which XLA's cost "
            "analysis counts as floating-point operations only (a DO1 step is integer and boolean work), and the true "
            "model hands the search each choice's reward, so its points measure search with the model's answers "
            "(serial depth = simulations), not compute a network could be compressed into.",
        ]
    return out


def setup(rows: list[dict]) -> str:
    r = next((r for r in rows if ssh.trained(r)), {})
    get = lambda key: r.get(f"config.train.{key}")
    seeds, episodes = get("num_seeds"), get("eval.episodes")
    cap, sims = get("expert_iteration.total_timesteps"), get("expert_iteration.simulations")
    return (
        "**Setup.** The instances of docs/results.md: one-shot DO1 on layered biregular circuits (width 4, k = 2), "
        "students trained on depths 4..8 (padded to 8; the mlp to 16) and tested unchanged on d1-stratified "
        "instances. Students are trained by expert iteration (`algo: expert_iteration`, "
        f"docs/design/expert-iteration.md): Gumbel MuZero with {sims} simulations on the true model, the student as "
        "its prior, picks each action; the student is fitted to the search's action weights and the Monte-Carlo "
        "returns (the bottleneck student with hints also to the solver's node values per iteration, the "
        f"auxiliary loss of configs/ssh_serial.yaml). {seeds} seeds, {episodes} episodes per seed and depth, 95% "
        "bootstrap intervals; each student trains to the plateau of its held-out evaluation (capped at "
        f"{int(cap or 0):,} steps per seed). Compute per decision is measured on each test env at its own T "
        "(docs/design/sweeps.md)."
    )


def tables(rows: list[dict], train: list[int]) -> list[str]:
    """The tables and verdicts (what docs/results.md's compression section holds)."""
    return [
        "Students against the bar and their ceilings (ratio r / r*):",
        "",
        *compression_table(rows),
        "",
        "**Verdicts** (intervals against intervals):",
        "",
        *verdicts(rows, train),
        "",
        f"**Compute frontier at D = {FRONTIER_DEPTH}** (each agent's score against its compute per decision; "
        '"beaten" when a point with at most its FLOPs has a ratio interval wholly above its own):',
        "",
        *frontier_table(rows),
        "",
        "**At equal FLOPs, which wins** (ratio intervals at D = 16):",
        "",
        *frontier_verdicts(rows),
    ]


def report(rows: list[dict], elapsed: float | None, figures: Path, train: list[int], command: str) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    took = f" in {elapsed / 60:.1f} min" if elapsed is not None else ""
    fig = figures.as_posix()
    return "\n".join(
        [
            "# Serial search, then compress: expert-iteration students and the compute frontier",
            "",
            f"Produced by `{command}` on {when} ({platform.machine()}, {os.cpu_count()} CPUs){took}. Every number comes from that command.",
            "",
            setup(rows),
            "",
            *tables(rows, train),
            "",
            f"![compute frontier: FLOPs]({fig}/frontier.png)",
            "",
            f"![compute frontier: serial depth]({fig}/frontier_serial.png)",
            "",
            f"Generalisation: ![generalisation]({fig}/generalisation.png)",
            "",
            f"Learning curves: ![learning curves]({fig}/learning_curves.png)",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a compression sweep folder (results.json, sweep.yaml)")
    parser.add_argument("--out", type=Path, help="write the whole report here (e.g. docs/results-compression.md)")
    parser.add_argument("--results-md", type=Path, help="also write the tables into this file's compression section")
    parser.add_argument("--elapsed", type=float, help="the command's wall time in seconds, for the report's header")
    parser.add_argument(
        "--figures",
        type=Path,
        default=Path("figures/compression"),
        help="the figures' folder, relative to the report (default: %(default)s)",
    )
    parser.add_argument("--command", default="bash scripts/reproduce_compression.sh", help="the command, for the header")
    args = parser.parse_args(argv)
    try:
        rows = read_results(args.results)
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    folder = args.results if args.results.is_dir() else args.results.parent
    train = ssh.train_depths(folder.parent, folder.name)
    if args.out is None:
        print("\n".join(tables(rows, train)))
        return 0
    text = report(rows, args.elapsed, args.figures, train, args.command)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    if args.results_md is not None:
        link = os.path.relpath(args.out, args.results_md.parent)
        body = "\n".join(
            [
                "## Serial search, then compress (expert iteration) and the compute frontier",
                "",
                f"From `{args.command}` (the whole report, setup and figures: [{args.out.name}]({link})).",
                "",
                *tables(rows, train),
                "",
                f"![compute frontier: FLOPs]({os.path.relpath(args.out.parent / args.figures, args.results_md.parent)}/frontier.png)",
                "",
                f"![compute frontier: serial depth]({os.path.relpath(args.out.parent / args.figures, args.results_md.parent)}"
                "/frontier_serial.png)",
            ]
        )
        report_sections.write_section(args.results_md, SECTION, body)
        print(f"wrote the {SECTION} section of {args.results_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
