"""The Pyomo models evaluate to the problem's objectives and export to files other solvers read."""

import numpy as np
import pyomo.environ as pyo
import pytest

from mip_models import make_group_sparse_instance, solve_mip
from mip_models.pyomo_models import build_bigm_mip, build_perspective_mip, load_point, write_model


def test_models_evaluate_to_objectives_1_and_4(tmp_path):
    problem = make_group_sparse_instance(seed=4, n=30, group_sizes=[2, 3, 2, 1], n_active=2, lam=0.2, alpha=0.3).problem
    exact = solve_mip(problem, "enumerate")
    rng = np.random.default_rng(0)
    y_frac = rng.uniform(0.2, 1.0, problem.n_groups)
    w_frac = np.concatenate([rng.uniform(-1, 1, g.size) * problem.M * y_frac[i] for i, g in enumerate(problem.groups)])
    w_frac = w_frac[np.argsort(np.concatenate(problem.groups))]
    for w, y in [(exact.w, exact.y), (w_frac, y_frac)]:
        bigm = load_point(build_bigm_mip(problem), problem, w=w, y=y)
        persp = load_point(build_perspective_mip(problem), problem, w=w, y=y)
        assert pyo.value(bigm.objective) == pytest.approx(problem.objective(w, y), rel=1e-12)
        assert pyo.value(persp.objective) == pytest.approx(problem.perspective_objective(w, y), rel=1e-12)
    for build, suffix in [(build_bigm_mip, ".lp"), (build_perspective_mip, ".lp"), (build_perspective_mip, ".nl")]:
        path = write_model(build(problem), tmp_path / f"{build.__name__}{suffix}")
        assert path.stat().st_size > 0
    text = (tmp_path / "build_perspective_mip.lp").read_text()
    assert "cone" in text and "binary" in text.lower()
    with pytest.raises(ValueError, match="path must end in"):
        write_model(build_bigm_mip(problem), tmp_path / "model.txt")
