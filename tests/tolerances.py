"""Float tolerances for comparing two computations of the same network."""

import jax
import numpy as np

# GPUs run float32 matmuls in TF32 by default (~1e-3 relative error); CPUs in full float32.
ON_CPU = jax.default_backend() == "cpu"
MATMUL_RTOL = 1e-5 if ON_CPU else 1e-2


def assert_matmul_close(actual, desired) -> None:
    """Equal to within float32 rounding on CPU, TF32 rounding elsewhere."""
    np.testing.assert_allclose(np.asarray(actual), np.asarray(desired), rtol=MATMUL_RTOL, atol=MATMUL_RTOL / 10)
