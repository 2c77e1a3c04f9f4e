"""The decoded node states of a trained bottleneck run, per seed: does it hold the circuit's values, or the collapse?

    python scripts/node_states.py runs/reward_only/main/runs/bottleneck-w32-* --episodes 256

On first observations of the run's own training env (its last curriculum
level), after T(obs) = D + 1 iterations, per seed: accuracy of "P(1) > 0.5"
against the solver's gate values (training-only labels: read here, never by
the agent), the share of gates with P(1) < 0.01, the share of real nodes
whose state is saturated (its largest probability > 0.99), and beta of the
head beta * depth * P(1). The collapse of reward-only training
(docs/design/curriculum.md) reads: every gate P(1) < 0.01, all saturated.
`--fresh` reports the run's network as each seed initialised it instead.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from do1rl.core.circuit import AND, OR
from do1rl.envs.types import MAIN
from do1rl.experiments.runs import load_run
from do1rl.experiments.trainer import seed_keys


def seed_states(run, seed: int, obs, values) -> dict:
    params = jax.tree.map(lambda x: x[seed], run.params)
    states, _ = jax.jit(lambda p, o: run.learner.network.apply(p, o, method="node_states"))(params, obs)
    states, values = np.asarray(states), np.asarray(values, bool)
    node_type = np.asarray(obs.node_type)
    gate = (node_type == AND) | (node_type == OR)
    main_gate = gate & (np.asarray(obs.circuit_id) == MAIN)
    p_one = states[..., 2]
    return {
        "seed": seed,
        "gate_accuracy": float(((p_one > 0.5) == values)[main_gate].mean()),
        "gates_p1_below_0.01": float((p_one[gate] < 0.01).mean()),
        "saturated": float((states.max(axis=-1) > 0.99)[node_type != 0].mean()),
        "beta": float(jnp.exp(params["params"]["log_beta"])),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a bottleneck run folder")
    p.add_argument("--episodes", type=int, default=256)
    p.add_argument("--seed", type=int, default=123)
    p.add_argument("--fresh", action="store_true", help="each seed's initial parameters, not the trained ones")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    run = load_run(args.run)
    if args.fresh:
        run = run._replace(params=jax.jit(run.learner.init_seeds)(seed_keys(run.config)).params)
    if run.config.network.family != "bottleneck":
        raise SystemExit(f"error: {args.run} is a {run.config.network.family} run; node states need a bottleneck run")
    keys = jax.random.split(jax.random.key(args.seed), args.episodes)
    obs, states = jax.vmap(run.env.reset, in_axes=(0, None))(keys, run.env_params)
    rows = [seed_states(run, s, obs, states.value) for s in range(run.config.num_seeds)]
    for r in rows:
        print(
            f"seed {r['seed']}: gate accuracy {r['gate_accuracy']:.3f}, gates with P(1) < 0.01 "
            f"{r['gates_p1_below_0.01']:.2f}, saturated {r['saturated']:.2f}, beta {r['beta']:.2f}"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
