"""Pruning one layer of a network trained on the digits data, exactly, against magnitude pruning."""

import numpy as np
import pytest

from mip_models import solve_mip
from mip_models.layer_problems import digits_layer_problem, magnitude_pruned


@pytest.fixture(scope="module")
def layer():
    return digits_layer_problem(hidden=8, n_samples=100, seed=1, lam=1.0, alpha=0.01)


def test_layer_problem_reconstructs_the_trained_layer(layer):
    assert layer.test_accuracy > 80.0  # a real trained network
    assert layer.reconstruction_error(layer.weights) == pytest.approx(0.0, abs=1e-20)
    assert np.allclose(layer.unflatten(layer.flatten(layer.weights)), layer.weights)
    # each group is exactly one input unit's outgoing weights
    w = layer.flatten(layer.weights)
    for i, g in enumerate(layer.problem.groups):
        assert np.array_equal(np.sort(w[g]), np.sort(layer.weights[i]))


def test_exact_pruning_is_no_worse_than_magnitude_pruning(layer):
    oa = solve_mip(layer.problem, "highs-oa")
    enum = solve_mip(layer.problem, "enumerate")
    assert oa.status == "optimal" and oa.objective == pytest.approx(enum.objective, rel=1e-6)
    keep = int(oa.y.sum())
    assert 0 < keep < layer.problem.n_groups  # this lam prunes some units, not all
    magnitude = magnitude_pruned(layer, keep)
    # (1) at the magnitude support with the trained weights is feasible, so it cannot beat the optimum
    support = np.linalg.norm(magnitude, axis=1) > 0
    assert oa.objective <= layer.problem.objective(layer.flatten(magnitude), support.astype(float)) + 1e-12
    # and on reconstruction error alone the optimum wins too (alpha small: little ridge shrinkage)
    assert layer.problem.loss(oa.w) <= layer.reconstruction_error(magnitude)
