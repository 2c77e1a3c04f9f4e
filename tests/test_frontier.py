"""The compute frontier figure (issue 23): accuracy and ratio against FLOPs and serial depth per decision."""

from __future__ import annotations

from do1rl.experiments.interval_plots import agent_label, plot_frontier
from do1rl.experiments.plotting import pyplot


def _row(agent, flops, serial, accuracy, **extra):
    return {"agent": agent, "seed_index": "all", "test_depth": 16, "flops_per_decision": flops, "serial_depth": serial,
            "decisive_accuracy_L3": accuracy, "decisive_accuracy_L3_low": accuracy - 0.05,
            "decisive_accuracy_L3_high": accuracy + 0.05, "mean_ratio": accuracy, **extra}


def test_frontier_plots_costly_agents_as_points_and_free_ones_as_lines(tmp_path):
    rows = [
        _row("gnn", 6e5, 8, 0.1, network_depth=3, network_width=16, **{"config.train.algo": "expert_iteration"}),
        _row("mcts", 4e6, 64, 0.9, simulations=64),
        _row("always_chain", "", "", 0.0),
        _row("gnn", 6e5, 8, 0.5, test_depth=8),  # another depth: not drawn
    ]
    path = plot_frontier(rows, tmp_path, pyplot())
    assert path == tmp_path / "frontier.png" and path.stat().st_size > 10_000
    assert agent_label(rows[0]) == "gnn (depth 3, width 16) [expert_iteration]"
    assert agent_label(rows[1]) == "mcts (64 sims)"


def test_no_costly_rows_no_figure(tmp_path):
    assert plot_frontier([_row("greedy", "", "", 1.0)], tmp_path, pyplot()) is None
