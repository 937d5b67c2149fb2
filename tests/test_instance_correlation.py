"""The planted instances' design: the O(n p) AR(1) recursion equals multiplying by the Cholesky
factor of the Toeplitz correlation rho^|j - k| (an independent dense computation)."""

import numpy as np
import pytest

from mip_models.instances import _toeplitz_rows


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.9])
def test_recursion_equals_the_cholesky_factor(rho):
    rng = np.random.default_rng(7)
    Z = rng.standard_normal((40, 25))
    lags = np.abs(np.subtract.outer(np.arange(25), np.arange(25)))
    np.testing.assert_allclose(_toeplitz_rows(Z, rho), Z @ np.linalg.cholesky(rho ** lags).T, atol=1e-12)
