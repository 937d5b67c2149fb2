"""Choosing lam for a support size (mip_models/lam_calibration.py), with the exact enumeration."""

import dataclasses

import numpy as np

from mip_models.instances import make_group_sparse_instance
from mip_models.lam_calibration import lam_for_kept_groups, lam_max
from mip_models.solve import solve_mip


def test_the_lam_found_keeps_the_target_number_of_groups():
    problem = make_group_sparse_instance(seed=3, n=60, group_sizes=[3] * 7, n_active=3, correlation=0.3, noise=0.5,
                                         lam=0.1, alpha=0.2, M_factor=3.0).problem
    for k in (1, 3, 5):
        search = lam_for_kept_groups(problem, k, method="enumerate", step_time_limit=30)
        assert search.kept == k and search.steps[-1]["kept"] == k
        again = solve_mip(dataclasses.replace(problem, lam=search.lam), "enumerate")
        assert int(np.sum(again.y > 0.5)) == k
    none = lam_for_kept_groups(problem, 0, method="enumerate")
    assert none.lam == lam_max(problem) and none.kept == 0 and not none.steps
