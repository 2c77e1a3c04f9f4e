"""The compression report (issue 23) from a compression sweep's results: docs/results-compression.md.

    python scripts/compression_report.py runs/ssh/compression [--out FILE --elapsed S --figures DIR]

Per student and test depth: the mean ratio and decisive-case accuracy (L = 3)
with their 95% intervals, the best trivial policy's ratio (the bar), and a
verdict: "above the bar" only when the student's interval lies wholly above
the bar's mean, "under the bar" when wholly below, else "at the bar".
Markdown on stdout, or with --out a whole report: setup, table, verdicts, figures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from do1rl.agents.baselines import TRIVIAL
from do1rl.experiments.interval_plots import pooled, read_ceiling
from do1rl.experiments.plotting import number
from do1rl.experiments.sweep import read_results

STUDENTS = ("mlp", "gnn", "recurrent")


def _cell(r: dict, metric: str) -> str:
    low, high = number(r.get(f"{metric}_low")), number(r.get(f"{metric}_high"))
    band = f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else ""
    return f"{number(r[metric]):.3f}{band}"


def table(rows: list[dict], ceiling: dict[int, float] | None = None) -> str:
    rows = [r for r in pooled(rows) if number(r.get("test_depth")) is not None and not r.get("iterations")]
    depths = sorted({int(number(r["test_depth"])) for r in rows})
    lines = [
        "| student | D | ratio [95% CI] | decisive accuracy, L = 3 [95% CI] | best trivial (ratio) | "
        + ("L = 3 ceiling | " if ceiling else "") + "verdict |",
        "|---|---|---|---|---|" + ("---|" if ceiling else "") + "---|",
    ]
    for student in STUDENTS:
        for depth in depths:
            mine = [r for r in rows if r["agent"] == student and int(number(r["test_depth"])) == depth]
            bars = [r for r in rows if r["agent"] in TRIVIAL and int(number(r["test_depth"])) == depth]
            if not mine or not bars:
                continue
            r, bar = mine[0], max(bars, key=lambda b: number(b["mean_ratio"]))
            low, high, best = number(r["mean_ratio_low"]), number(r["mean_ratio_high"]), number(bar["mean_ratio"])
            verdict = "above the bar" if low > best else "under the bar" if high < best else "at the bar"
            ceiling_cell = f"{ceiling[depth]:.3f} | " if ceiling and depth in ceiling else ("- | " if ceiling else "")
            lines.append(
                f"| {student} | {depth} | {_cell(r, 'mean_ratio')} | {_cell(r, 'decisive_accuracy_L3')} | "
                f"{bar['agent']} {best:.3f} | {ceiling_cell}{verdict} |"
            )
    return "\n".join(lines)


def verdicts(rows: list[dict]) -> list[str]:
    """One line per student: where its ratio lies against the bar, training depths (<= 8) and beyond."""
    rows = [r for r in pooled(rows) if number(r.get("test_depth")) is not None and not r.get("iterations")]
    out = []
    for student in STUDENTS:
        parts = []
        for r in sorted((r for r in rows if r["agent"] == student), key=lambda r: number(r["test_depth"])):
            depth = int(number(r["test_depth"]))
            bars = [b for b in rows if b["agent"] in TRIVIAL and int(number(b["test_depth"])) == depth]
            best = max(number(b["mean_ratio"]) for b in bars)
            low, high = number(r["mean_ratio_low"]), number(r["mean_ratio_high"])
            where = "above" if low > best else "under" if high < best else "at"
            parts.append(f"D = {depth} {where} ({number(r['mean_ratio']):.3f} vs {best:.3f})")
        if parts:
            out.append(f"- {student}: " + "; ".join(parts) + ".")
    return out


def report(rows: list[dict], elapsed: float | None, figures: Path) -> str:
    import datetime
    import os
    import platform

    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    took = f" in {elapsed / 60:.1f} min" if elapsed is not None else ""
    return "\n".join([
        "# Serial search, then compress: expert-iteration students",
        "",
        f"Produced by `bash scripts/reproduce_compression.sh` on {when} ({platform.machine()}, {os.cpu_count()} CPUs)"
        f"{took}. Every number comes from that command (configs/ssh_compression.yaml).",
        "",
        "**Setup.** The instances of docs/results.md: one-shot DO1 on layered biregular circuits (width 4, k = 2), "
        "students trained on depths 4..8 (padded to 8; the mlp to 16) and tested unchanged on d1-stratified "
        "instances. Students are trained by expert iteration (`algo: expert_iteration`, "
        "docs/design/expert-iteration.md): Gumbel MuZero with 8 simulations on the true model, the student as "
        "its prior, picks each action; the student is fitted to the search's action weights and the Monte-Carlo "
        "returns. 3 seeds, 334 episodes per seed and depth, 95% bootstrap intervals; each student trains to the "
        "plateau of its held-out evaluation (capped at 32,768 steps per seed). The bar is the best of the "
        "constant, greedy and random policies on the same episodes.",
        "",
        table(rows),
        "",
        "**Verdicts** (a student's 95% interval against the bar's mean):",
        "",
        *verdicts(rows),
        "",
        f"![compute frontier]({figures.as_posix()}/frontier.png)",
        "",
        f"Learning curves: ![learning curves]({figures.as_posix()}/learning_curves.png)",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a compression sweep folder or its results.csv/json")
    parser.add_argument("--ceiling", type=Path, help="scripts/ceiling.py --json output: the L = 3 ceiling column")
    parser.add_argument("--out", type=Path, help="write the whole report here (e.g. docs/results-compression.md)")
    parser.add_argument("--elapsed", type=float, help="the command's wall time in seconds, for the report's header")
    parser.add_argument("--figures", type=Path, default=Path("figures/compression"),
                        help="the figures' folder, relative to the report (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        rows = read_results(args.results)
        ceiling = read_ceiling(args.ceiling) if args.ceiling else None
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.out is not None:
        args.out.write_text(report(rows, args.elapsed, args.figures), encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(table(rows, ceiling))
    return 0


if __name__ == "__main__":
    sys.exit(main())
