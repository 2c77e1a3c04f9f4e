"""The compute frontier (issue 23): points, labels, domination and the two figures."""

from __future__ import annotations

from do1rl.experiments.frontier import beaten_by, frontier_points, plot_frontier, point_label, series_label
from do1rl.experiments.plotting import pyplot


def _row(agent, flops, serial, accuracy, ratio=None, **extra):
    ratio = accuracy if ratio is None else ratio
    return {
        "agent": agent,
        "seed_index": "all",
        "test_depth": 16,
        "flops_per_decision": flops,
        "serial_depth": serial,
        "decisive_accuracy_L3": accuracy,
        "decisive_accuracy_L3_low": accuracy - 0.05,
        "decisive_accuracy_L3_high": accuracy + 0.05,
        "mean_ratio": ratio,
        "mean_ratio_low": ratio - 0.02,
        "mean_ratio_high": ratio + 0.02,
        **extra,
    }


EI = {"config.train.algo": "expert_iteration"}
ROWS = [
    _row("gnn", 6e5, 8, 0.1, network_depth=3, network_width=16, **EI),
    _row("gnn", 2e6, 20, 0.2, 0.70, network_depth=9, network_width=16, **EI),
    _row("recurrent", 1e6, 36, 0.8, 0.95, network_width=16, **EI),
    _row("recurrent", 3e5, 10, 0.3, 0.40, network_width=16, iterations=4, **EI),
    _row("mcts", 4e6, 64, 0.9, 0.99, simulations=64),
    _row("always_chain", "", "", 0.0, 0.80),
    _row("gnn", 6e5, 8, 0.5, test_depth=8),  # another depth: not a point
    _row("recurrent", 9e5, 30, 0.5, iterations_per_depth=2.0),  # T = ceil(x * D): not a point
]


def test_points_labels_and_domination():
    points = frontier_points(ROWS)
    assert [point_label(r) for r in points] == ["T=4", "L3 W16", "T=rule (36 deep)", "L9 W16", "64 sims"]
    assert series_label(points[1]) == "gnn [expert_iteration]" and series_label(points[-1]) == "mcts (true model)"
    gnn9, recurrent = points[3], points[2]
    assert beaten_by(gnn9, points) is recurrent  # 0.95 at half the FLOPs beats 0.70
    assert beaten_by(recurrent, points) is None  # nothing cheaper is better
    assert beaten_by(points[0], points) is None  # the cheapest point has nothing at <= its FLOPs


def test_frontier_writes_two_figures(tmp_path):
    paths = plot_frontier(ROWS, tmp_path, pyplot())
    assert paths == [tmp_path / "frontier.png", tmp_path / "frontier_serial.png"]
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_no_costly_rows_no_figure(tmp_path):
    assert plot_frontier([_row("greedy", "", "", 1.0)], tmp_path, pyplot()) == []


def test_a_registered_figure_is_drawn_by_plot_intervals(tmp_path, monkeypatch):
    """A figure is one function and one registry line (docs/extending.md)."""
    from do1rl.experiments import interval_plots

    def mine(rows, out, plt, options):
        fig, ax = plt.subplots()
        ax.plot([len(rows)], [1.0], "o")
        return interval_plots.save_figure(fig, out / "mine.png", plt)

    monkeypatch.setattr(interval_plots, "FIGURES", dict(interval_plots.FIGURES))
    interval_plots.register_figure("mine", mine)
    logged = []
    written = interval_plots.plot_intervals(ROWS, tmp_path, log=logged.append)
    assert tmp_path / "mine.png" in written and (tmp_path / "frontier.png") in written
    assert "skipped horizon_ci: no pooled rows for it" in logged
