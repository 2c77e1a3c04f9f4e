"""Policies on twin pairs: the same forced choice on both twins, and what it costs.

Twins (`do1rl.core.twins`) have the same L-round colours, so an L-block
message-passing policy picks the same circuit on both in DO1's forced
choice. Where k lies strictly between the twins' d1, one twin needs C and the
other the chain, so such a policy is right on at most half of those cases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import numpy as np

from do1rl.core import solver
from do1rl.core.circuit import Circuit, stack
from do1rl.core.generators import CircuitPool
from do1rl.core.twins import twins
from do1rl.envs.instances import per_instance_params
from do1rl.evaluation.first_choice import forced_choice
from do1rl.evaluation.play import Start, play
from do1rl.evaluation.stats import seed_episode_interval

__all__ = ["twin_choice_report", "twin_pairs", "twin_starts"]


def twin_pairs(generator: Callable, blocks: int, count: int, *, seed: int, tries: int) -> list[tuple[Circuit, Circuit]]:
    """Up to `count` (circuit, twin) pairs for L = `blocks` from the first `tries` draws of `generator`."""
    pairs = []
    for i in range(tries):
        circuit = jax.device_get(generator(jax.random.fold_in(jax.random.key(seed), i)))
        twin = twins(circuit, blocks, seed=i)
        if twin is not None:
            pairs.append((circuit, twin))
        if len(pairs) == count:
            break
    return pairs


def twin_starts(env, pairs: Sequence[tuple[Circuit, Circuit]], depth: int) -> tuple[Start, np.ndarray]:
    """(starts, d1 int[P, 2]): DO1 resets of both twins of every pair at every k in 1..depth.

    Episode order: pair, then twin (0, 1), then k.
    """
    ks = np.arange(1, depth + 1)
    circuits = [c for pair in pairs for c in pair for _ in ks]
    params = per_instance_params(CircuitPool(circuits=stack(circuits)), np.tile(ks, 2 * len(pairs)).astype(np.int32))
    keys = jax.random.split(jax.random.key(0), len(circuits))
    starts = jax.device_get(jax.jit(jax.vmap(env.reset, (0, 0)))(keys, params))
    d1 = np.array([[int(solver.solve(c).d1) for c in pair] for pair in pairs])
    return starts, d1


def twin_choice_report(env, env_params, players: Sequence[Callable], pairs, depth: int) -> dict:
    """Per policy seed (`players`, as `play` takes them), pooled with 95% intervals over seeds and episodes.

    Keys: `pairs`, `split_cases` (the (pair, k) with k strictly between the
    twins' d1), `same_choice` (share of (pair, k) answered with the same
    circuit on both twins), `accuracy_split` (forced-choice accuracy on both
    twins of the split cases; absent without any), `accuracy_all`.
    """
    starts, d1 = twin_starts(env, pairs, depth)
    ks = np.arange(1, depth + 1)
    split = (ks > d1.min(axis=1, keepdims=True)) & (ks < d1.max(axis=1, keepdims=True))  # [P, K]
    shape = (len(pairs), 2, depth)
    same, split_right, all_right = [], [], []
    for player in players:
        out = play(env, env_params, None, episodes=2 * depth * len(pairs), seed=0, player=player, starts=starts)
        choice = forced_choice(out)
        assert choice is not None  # DO1 episodes, k >= 1
        right = choice[0].reshape(shape)
        first = np.asarray(out.first_circuit).reshape(shape)
        same.append((first[:, 0] == first[:, 1]).ravel().astype(np.float64))
        split_right.append(right.transpose(0, 2, 1)[split].ravel().astype(np.float64))
        all_right.append(right.ravel().astype(np.float64))
    report = {
        "pairs": len(pairs),
        "split_cases": int(split.sum()),
        "same_choice": seed_episode_interval(same).as_dict(),
        "accuracy_all": seed_episode_interval(all_right).as_dict(),
    }
    if split.any():
        report["accuracy_split"] = seed_episode_interval(split_right).as_dict()
    return report
