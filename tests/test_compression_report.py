"""scripts/compression_report.py and scripts/report_sections.py on synthetic sweep rows (issue 23)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from do1rl.experiments import sweep

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))
compression_report = pytest.importorskip("compression_report")
report_sections = pytest.importorskip("report_sections")

EI = {"config.train.algo": "expert_iteration"}


def _row(agent, d, ratio, flops=None, serial=None, **kw):
    r = dict.fromkeys(sweep.ROW_KEYS)
    r.update(
        sweep="compression",
        agent=agent,
        seed_index="all",
        depth_group="all",
        test_depth=d,
        flops_per_decision=flops,
        serial_depth=serial,
        **kw,
    )
    for name, mean in (
        ("mean_ratio", ratio),
        ("decisive_accuracy_L3", 0.3),
        ("ceiling_ratio_L0", 0.70),
        ("ceiling_ratio_L3", 0.83),
        ("ceiling_ratio_L1", 0.78),
    ):
        r[name], r[f"{name}_low"], r[f"{name}_high"] = mean, mean - 0.02, mean + 0.02
    return r


def rows():
    out = []
    for d in (4, 8, 16):
        out.append(_row("gnn", d, 0.60, 6e5, 8, network_depth=1, network_width=16, **{"config.train.network.family": "gnn"}, **EI))
        out.append(
            _row(
                "bottleneck",
                d,
                0.99,
                1e6,
                40,
                network_width=32,
                **{"config.train.network.family": "bottleneck", "config.train.expert_iteration.aux_coef": 1.0},
                **EI,
            )
        )
        out.append(_row("mcts", d, 0.995, 4e6, 64, simulations=64))
        out += [_row(a, d, v) for a, v in (("always_chain", 0.80), ("greedy", 0.1), ("random", 0.2))]
    return out


def test_students_verdicts_and_frontier():
    text = "\n".join(compression_report.tables(rows(), [4, 8]))
    # The gnn lies under the bar (always_chain, 0.80) at its training depths: not learned, whatever else it does.
    assert "**gnn (L = 1, width 16)**: not learned" in text
    assert "under its L = 1 ceiling at every test depth" in text  # 0.60 [0.58, 0.62] vs 0.78 [0.76, 0.80]
    assert "**bottleneck (width 32, T = D + 1), hints**: learned (above the bar at D = 4, 8)" in text
    assert "D = 16: above the bar (0.990 vs 0.800); above the L = 3 ceiling at every test depth" in text
    # Frontier at D = 16: the gnn is cheapest (on the frontier); mcts costs more than the bottleneck, not better.
    assert "| gnn [expert_iteration] | L1 W16 | 6.00e+05 | 8 |" in text and "| on the frontier |" in text
    assert "L1 W16 (6.00e+05 FLOPs, serial depth 8): 0.600 [0.580, 0.620]; no serial student at <= its FLOPs." in text
    assert (
        "T=rule (40 deep) (1.00e+06 FLOPs, serial depth 40): 0.990 [0.970, 1.010] vs the best fixed-depth student "
        "at <= its FLOPs, gnn [expert_iteration] L1 W16 (6.00e+05, serial depth 8): 0.600 [0.580, 0.620]; it is above it." in text
    )
    assert "MCTS is left out of this comparison" in text


def test_results_md_section_is_kept_by_the_other_report(tmp_path):
    path = tmp_path / "results.md"
    path.write_text("# Results\n\nbody\n")
    report_sections.write_section(path, "compression", "first")
    report_sections.write_section(path, "compression", "second")  # replaced, not appended
    text = path.read_text()
    assert text.count("begin section compression") == 1 and "second" in text and "first" not in text
    regenerated = report_sections.keep_sections(text, "# Results\n\nnew body\n")  # what ssh_report.py writes
    assert "new body" in regenerated and "second" in regenerated and "body\n\n<!--" not in regenerated.split("new")[0]
    assert report_sections.keep_sections(regenerated, regenerated) == regenerated


def test_main_writes_report_and_section(tmp_path, capsys):
    folder = tmp_path / "runs" / "compression"
    folder.mkdir(parents=True)
    sweep.write_table(rows(), folder)
    (folder / "sweep.yaml").write_text("train: {env: {args: {depths: [4, 5, 6, 7, 8]}}}\n")
    out, results_md = tmp_path / "docs" / "results-compression.md", tmp_path / "docs" / "results.md"
    out.parent.mkdir()
    results_md.write_text("# Results\n")
    assert compression_report.main([str(folder), "--out", str(out), "--results-md", str(results_md), "--elapsed", "90"]) == 0
    assert "in 1.5 min" in out.read_text() and "frontier_serial.png" in out.read_text()
    section = report_sections.sections(results_md.read_text())["compression"]
    assert "(the whole report, setup and figures: [results-compression.md](results-compression.md))" in section
    assert "](figures/compression/frontier.png)" in section
    assert compression_report.main([str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("error:")
