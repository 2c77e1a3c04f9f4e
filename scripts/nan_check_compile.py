"""The NaN check's cost by network depth: one jitted program over every leaf vs `checkpoint.all_finite` (per leaf shape).

python scripts/nan_check_compile.py   # numbers in docs/reliability.md ("Network depth and compile time")
"""

import time

import jax
import jax.numpy as jnp
import optax

from do1rl.agents.networks import NetworkConfig, make_network
from do1rl.envs import make
from do1rl.experiments import checkpoint


def seconds(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


env, params = make("do1rl/DO1-v0", depth=4, width=4)
obs, _ = env.reset(jax.random.key(0), params)
for depth in (32, 64):
    net = make_network(NetworkConfig(family="gnn", depth=depth, width=16), env)
    p = net.init(jax.random.key(0), obs)
    tree = (p, optax.adam(1e-3).init(p))
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    one_program = jax.jit(lambda ls: jnp.all(jnp.stack([jnp.isfinite(x).all() for x in ls])))  # the check before
    t_old = seconds(lambda f, ls: bool(f(ls)), one_program, leaves)
    t_new, t_again = seconds(checkpoint.all_finite, tree), seconds(checkpoint.all_finite, tree)
    print(
        f"gnn depth {depth}: {len(leaves)} leaves; one program over all leaves {t_old:.2f} s; "
        f"per leaf shape {t_new:.2f} s first call, {t_again:.3f} s second"
    )
