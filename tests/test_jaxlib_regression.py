"""Guards against the jaxlib 0.10.2 CPU miscompile of matmul + sum (NaN).

pyproject.toml excludes jaxlib 0.10.2; this test catches the bug if such a
build is installed anyway.
"""

import math

import jax
import jax.numpy as jnp


def test_matmul_sum_is_exact():
    result = jax.jit(lambda x: (x @ jnp.ones((320, 256))).sum())(jnp.ones((64, 320)))
    value = float(result)
    assert math.isfinite(value)
    assert value == 64 * 320 * 256 == 5242880
