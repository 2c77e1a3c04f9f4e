"""Experiments: agents by name, training runs, checkpoints, sweeps and their plots."""
