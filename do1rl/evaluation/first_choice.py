"""Scores of DO1's forced choice at t = 0, the decision with no scratchpad.

The forced choice is right when it picks the circuit with the larger V*
(C when d1 >= k, the chain when k >= d1; ties count as right). Its regret is
the optimum max(d1, k) minus the best return reachable after it (d1 after
choosing C, k after choosing the chain). Why it matters: docs/hard-instances.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from do1rl.envs.types import CHAIN, MAIN

__all__ = ["FIRST_CHOICE_KEYS", "first_choice_metrics", "forced_choice", "format_first_choice"]

FIRST_CHOICE_KEYS = ("episodes", "accuracy", "mean_forced_regret", "max_forced_regret")


def _summary(correct: np.ndarray, regret: np.ndarray) -> dict:
    return {
        "episodes": int(correct.size),
        "accuracy": float(correct.mean()),
        "mean_forced_regret": float(regret.mean()),
        "max_forced_regret": float(regret.max()),
    }


def _split(keys: np.ndarray, correct: np.ndarray, regret: np.ndarray) -> dict:
    return {str(int(v)): _summary(correct[keys == v], regret[keys == v]) for v in np.unique(keys)}


def forced_choice(results: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Per episode: (right bool[E], forced regret float64[E]) of DO1's forced choice; None without one."""
    if results.first_circuit is None or results.chain_length is None:
        return None
    k = np.asarray(results.chain_length, np.int64)
    if not np.all(k >= 1):
        return None
    d1 = np.asarray(results.d1, np.int64)
    first = np.asarray(results.first_circuit)
    reached = np.where(first == MAIN, d1, np.where(first == CHAIN, k, 0))
    best = np.maximum(d1, k)
    return reached == best, (best - reached).astype(np.float64)


def first_choice_metrics(results: Any) -> dict | None:
    """Forced-choice accuracy and regret over DO1 `Episodes`, overall and split.

    Splits: by |d1 - k| (`by_gap`), by circuit depth, by cert(d1). None when
    the episodes carry no chain (AlternatingCircuit) or no first-choice record.
    """
    outcome = forced_choice(results)
    if outcome is None:
        return None
    correct, regret = outcome
    k = np.asarray(results.chain_length, np.int64)
    d1 = np.asarray(results.d1, np.int64)
    report = _summary(correct, regret)
    report["by_gap"] = _split(np.abs(d1 - k), correct, regret)
    report["by_depth"] = _split(np.asarray(results.circuit_depth), correct, regret)
    report["by_cert_d1"] = _split(np.asarray(results.cert_d1), correct, regret)
    return report


def format_first_choice(report: dict) -> str:
    """Tables of a `first_choice_metrics` report: overall, by |d1 - k|, by depth, by cert(d1)."""
    cols = FIRST_CHOICE_KEYS
    row = lambda label, m: f"{label:>9} " + " ".join(
        f"{m[c]:>18d}" if c == "episodes" else f"{m[c]:>18.4f}" for c in cols
    )
    lines = ["forced choice at t = 0 (right: picks the circuit with the larger V*; ties right)"]
    for title, key in (("|d1-k|", "by_gap"), ("depth", "by_depth"), ("cert(d1)", "by_cert_d1")):
        lines.append(f"{title:>9} " + " ".join(f"{c:>18}" for c in cols))
        if key == "by_gap":
            lines.append(row("all", report))
        lines += [row(v, m) for v, m in sorted(report[key].items(), key=lambda kv: int(kv[0]))]
    return "\n".join(lines)
