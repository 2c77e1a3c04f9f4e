"""Scores of DO1's forced choice at t = 0, the decision with no scratchpad.

The forced choice is right when it picks the circuit with the larger V*
(C when d1 >= k, the chain when k >= d1; ties count as right). Its regret is
the optimum max(d1, k) minus the best return reachable after it (d1 after
choosing C, k after choosing the chain). Why it matters: docs/hard-instances.md.

Decisive cases (issue 21): the instances where the L-block ceiling's best
forced choice is wrong (`do1rl.evaluation.decisive`). A policy that sees no
more than L blocks' worth of the circuit can be right on them only by chance
or against its own best guess, so forced-choice accuracy on them is where a
net that really reads deep gates shows (L = 0: the prior-only choice, which
knows D, k and the d1 law and nothing of this circuit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from do1rl.envs.types import CHAIN, MAIN

__all__ = [
    "FIRST_CHOICE_KEYS",
    "ceiling_ratios",
    "decisive_flags",
    "decisive_metrics",
    "first_choice_metrics",
    "forced_choice",
    "format_decisive",
    "format_first_choice",
]

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
    row = lambda label, m: f"{label:>9} " + " ".join(f"{m[c]:>18d}" if c == "episodes" else f"{m[c]:>18.4f}" for c in cols)
    lines = ["forced choice at t = 0 (right: picks the circuit with the larger V*; ties right)"]
    for title, key in (("|d1-k|", "by_gap"), ("depth", "by_depth"), ("cert(d1)", "by_cert_d1")):
        lines.append(f"{title:>9} " + " ".join(f"{c:>18}" for c in cols))
        if key == "by_gap":
            lines.append(row("all", report))
        lines += [row(v, m) for v, m in sorted(report[key].items(), key=lambda kv: int(kv[0]))]
    return "\n".join(lines)


def _one_shot_biregular(env) -> bool:
    from do1rl.envs import DO1

    return isinstance(env, DO1) and getattr(env, "max_selections", None) == 1


def decisive_flags(env, states: Any, blocks: Sequence[int]) -> dict[int, np.ndarray] | None:
    """{L: bool[E]}: the episodes of `states` (DO1 resets, leading axis [E]) where the L-block ceiling's choice is wrong.

    None where the flags do not exist: the env is not one-shot DO1
    (`max_selections=1`, the game the ceiling is worked out for), its
    generator is not the biregular family (`do1rl.evaluation.decisive`
    raises ValueError), or that module is not installed.
    """
    if not blocks or not _one_shot_biregular(env):
        return None
    try:
        from do1rl.evaluation.decisive import decisive_from_states
    except ImportError:  # the decisive-case module is not part of this build
        return None
    try:
        return {int(b): np.asarray(decisive_from_states(env, states, int(b)), bool) for b in dict.fromkeys(blocks)}
    except ValueError:  # not the biregular family
        return None


def ceiling_ratios(env, states: Any, blocks: int) -> np.ndarray | None:
    """float[E]: the L-block ceiling's expected ratio on each episode of `states` (one-shot biregular DO1); else None.

    L = 0 is the prior-only ceiling: the best one-shot choice knowing D, k,
    the kinds, the inputs' count of 1s and the d1 law, and nothing of any
    gate's value. Its mean over episodes is what a policy that reads no gate
    can reach in expectation (`do1rl.evaluation.decisive.ceiling_choice`).
    """
    if not _one_shot_biregular(env):
        return None
    from do1rl.evaluation.decisive import ceiling_from_states

    try:
        return np.asarray(ceiling_from_states(env, states, int(blocks))[1], np.float64)
    except ValueError:
        return None


def decisive_metrics(results: Any, flags: Mapping[int, np.ndarray]) -> dict | None:
    """Forced-choice accuracy on the decisive episodes of each L: {"L": {"episodes", "accuracy"}}.

    `flags[L]`: bool per episode (at least as many as `results` holds; the
    first ones are used), True where the L-block ceiling's forced choice is
    wrong. `accuracy` is None when no episode is decisive. None when the
    episodes have no forced choice.
    """
    outcome = forced_choice(results)
    if outcome is None or not flags:
        return None
    correct = outcome[0]
    out = {}
    for blocks in sorted(flags):
        decisive = np.asarray(flags[blocks], bool)[: correct.size]
        if decisive.size != correct.size:
            raise ValueError(f"decisive flags for L = {blocks}: {decisive.size} episodes, results hold {correct.size}")
        n = int(decisive.sum())
        out[str(blocks)] = {"episodes": n, "accuracy": float(correct[decisive].mean()) if n else None}
    return out


def format_decisive(report: dict) -> str:
    """A table of a `decisive_metrics` report: per L, the decisive episodes and the forced choice's accuracy on them."""
    lines = [
        "forced choice on decisive episodes (the L-block ceiling's best choice is wrong; L = 0: prior only)",
        f"{'L':>9} {'episodes':>18} {'accuracy':>18}",
    ]
    for blocks, m in sorted(report.items(), key=lambda kv: int(kv[0])):
        acc = "n/a" if m["accuracy"] is None else f"{m['accuracy']:.4f}"
        lines.append(f"{blocks:>9} {m['episodes']:>18d} {acc:>18}")
    return "\n".join(lines)
