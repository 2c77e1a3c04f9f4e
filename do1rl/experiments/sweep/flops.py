"""FLOPs per decision from XLA's cost analysis (see docs/design/sweeps.md for "recurrent" and mcts)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax

from do1rl.agents.networks import NetworkConfig, make_network, num_iterations


def _flops(fn: Callable, *args) -> float | None:
    try:
        cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    except Exception:
        return None
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    if not cost or "flops" not in cost:
        return None
    return float(cost["flops"])


def network_flops(network_config: NetworkConfig, env, obs) -> float | None:
    """FLOPs of one network apply on one observation.

    XLA counts a scan body once, so for "recurrent" (T iterations of one
    block) it is flops(gnn, 1 block) + (T - 1) x (flops(gnn, 2) - flops(gnn, 1)).
    """

    def apply_flops(cfg: NetworkConfig) -> float | None:
        net = make_network(cfg, env)
        if cfg.family == "bottleneck":  # unrolled, so that XLA counts every iteration
            net = net.clone(unroll=net.static_iterations)
        params = jax.eval_shape(net.init, jax.random.key(0), obs)
        return _flops(net.apply, params, obs)

    if network_config.family == "bottleneck":  # T iterations of one update: flops(T = 2) - flops(T = 1) each
        forced = lambda t: dataclasses.replace(network_config, iterations_per_depth=0.0, extra_iterations=t, max_iterations=t)
        one, two = apply_flops(forced(1)), apply_flops(forced(2))
        if one is None or two is None:
            return None
        return one + (int(num_iterations(network_config, env, obs)) - 1) * (two - one)
    if network_config.family != "recurrent":
        return apply_flops(network_config)
    one = apply_flops(dataclasses.replace(network_config, family="gnn", depth=1))
    two = apply_flops(dataclasses.replace(network_config, family="gnn", depth=2))
    if one is None or two is None:
        return None
    t = int(num_iterations(network_config, env, obs))
    return one + (t - 1) * (two - one)


def env_step_flops(env, params, obs_state) -> float | None:
    """FLOPs of one `env.step` from the state of `obs_state` (an `env.reset` output)."""
    _, state = obs_state
    action = jax.numpy.int32(0)
    return _flops(lambda s, a: env.step(jax.random.key(0), s, a, params)[:3], state, action)
