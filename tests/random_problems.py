"""Seeded random GroupSparseProblems for the tests (a fresh, reproducible draw per seed)."""

import numpy as np

from mip_models import make_group_sparse_instance


def random_problems(count, seed, groups=(3, 12), size_max=6, n=(20, 150), log10_lam=(-2.0, 0.5),
                    log10_alpha_min=-3.0, M_factor_max=3.0):
    rng = np.random.default_rng(seed)
    for i in range(count):
        n_groups = int(rng.integers(*groups))
        yield make_group_sparse_instance(
            seed=1000 * seed + i, n=int(rng.integers(*n)), group_sizes=rng.integers(1, size_max + 1, size=n_groups),
            n_active=int(rng.integers(1, n_groups)), correlation=rng.uniform(0, 0.8), noise=rng.uniform(0.2, 1.0),
            lam=float(10 ** rng.uniform(*log10_lam)), alpha=float(10 ** rng.uniform(log10_alpha_min, np.log10(0.8))),
            M_factor=rng.uniform(1.0, M_factor_max),
        ).problem
