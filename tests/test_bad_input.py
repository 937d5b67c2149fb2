"""Bad input gets a clear error that names the argument."""

import numpy as np
import pytest

from mip_models import GroupSparseProblem, make_group_sparse_instance
from relaxations import bigm_penalty, spr_penalty, spr_penalty_many, spr_y

X = np.random.default_rng(0).standard_normal((10, 4))
T = np.ones(10)
GROUPS = [np.array([0, 1]), np.array([2, 3])]


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5, np.nan])
def test_alpha_outside_open_unit_interval(alpha):
    with pytest.raises(ValueError, match=r"alpha must lie in the open interval \(0, 1\)"):
        spr_penalty(np.ones(3), alpha, 2.0)
    with pytest.raises(ValueError, match="alpha"):
        GroupSparseProblem(X, T, GROUPS, lam=1.0, alpha=alpha, M=1.0)


@pytest.mark.parametrize("M", [0.0, -1.0, np.inf, np.nan])
def test_nonpositive_or_infinite_M(M):
    with pytest.raises(ValueError, match="M must be finite and > 0"):
        spr_penalty(np.ones(3), 0.5, M)
    with pytest.raises(ValueError, match="M must be finite and > 0"):
        GroupSparseProblem(X, T, GROUPS, lam=1.0, alpha=0.5, M=M)


@pytest.mark.parametrize("lam", [-1e-3, np.inf, np.nan, "1"])
def test_bad_lam(lam):
    with pytest.raises(ValueError, match="lam must be a finite real number >= 0"):
        GroupSparseProblem(X, T, GROUPS, lam=lam, alpha=0.5, M=1.0)


def test_weights_beyond_M():
    with pytest.raises(ValueError, match=r"\|\|w\|\|_inf / M = 1.5 > 1"):
        spr_penalty(np.array([0.5, -3.0]), 0.5, 2.0)
    with pytest.raises(ValueError, match="box"):
        bigm_penalty(np.array([3.0]), 0.5, 2.0)
    with pytest.raises(ValueError, match="box"):
        spr_y(np.array([3.0]), 0.5, 2.0)
    assert spr_penalty(np.array([2.0 * (1 + 1e-12)]), 0.5, 2.0) > 0  # solver round-off is tolerated


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_data(bad):
    w = np.array([0.1, bad])
    with pytest.raises(ValueError, match="w contains NaN or inf"):
        spr_penalty(w, 0.5, 1.0)
    with pytest.raises(ValueError, match="W contains NaN or inf"):
        spr_penalty_many(w[None, :], 0.5, 1.0)
    Xb = X.copy()
    Xb[3, 1] = bad
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        GroupSparseProblem(Xb, T, GROUPS, lam=1.0, alpha=0.5, M=1.0)
    Tb = T.copy()
    Tb[0] = bad
    with pytest.raises(ValueError, match="t contains NaN or inf"):
        GroupSparseProblem(X, Tb, GROUPS, lam=1.0, alpha=0.5, M=1.0)


@pytest.mark.parametrize(
    "groups, message",
    [
        ([np.array([0, 1]), np.array([1, 2, 3])], "more than one group"),
        ([np.array([0, 1]), np.array([2])], r"belong to no group"),
        ([np.array([0, 1]), np.array([2, 3, 4])], r"outside the allowed range \[0, 3\]"),
        ([np.array([0, 1, 2, 3]), np.array([], dtype=int)], "groups\\[1\\] is empty"),
        ([np.array([0.0, 1.0]), np.array([2, 3])], "integer column indices"),
        ([], "at least one group"),
    ],
)
def test_groups_that_do_not_partition_the_columns(groups, message):
    with pytest.raises(ValueError, match=message):
        GroupSparseProblem(X, T, groups, lam=1.0, alpha=0.5, M=1.0)


def test_mismatched_shapes():
    with pytest.raises(ValueError, match=r"t must have one entry per row of X \(10\)"):
        GroupSparseProblem(X, np.ones(9), GROUPS, lam=1.0, alpha=0.5, M=1.0)
    with pytest.raises(ValueError, match="X must be 2-dimensional"):
        GroupSparseProblem(np.ones(10), T, GROUPS, lam=1.0, alpha=0.5, M=1.0)
    problem = GroupSparseProblem(X, T, GROUPS, lam=1.0, alpha=0.5, M=1.0)
    with pytest.raises(ValueError, match=r"w must have one entry per column of X \(4\)"):
        problem.objective(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"y must have one entry per group \(2\)"):
        problem.objective(np.zeros(4), np.zeros(3))
    with pytest.raises(ValueError, match="W must be 2-dimensional"):
        spr_penalty_many(np.ones(3), 0.5, 1.0)
    with pytest.raises(ValueError, match="variant must be one of"):
        spr_penalty(np.ones(3), 0.5, 2.0, variant="printed")


def test_objective_rejects_points_violating_the_constraints():
    problem = GroupSparseProblem(X, T, GROUPS, lam=1.0, alpha=0.5, M=1.0)
    w = np.array([0.5, 0.0, 0.2, 0.0])
    assert problem.is_feasible(w, np.array([0.5, 0.2]))
    with pytest.raises(ValueError, match=r"violates \(2\)"):
        problem.objective(w, np.array([0.4, 0.2]))
    with pytest.raises(ValueError, match=r"y must lie in \[0, 1\]"):
        problem.objective(w, np.array([1.5, 0.2]))
    # objective (1) at a feasible point, computed independently
    y = np.array([1.0, 0.0])
    w = np.array([0.5, -0.3, 0.0, 0.0])
    expected = np.sum((X @ w - T) ** 2) / 10 + 1.0 * (0.5 * np.sum(w**2) + 0.5 * 1.0)
    assert problem.objective(w, y) == pytest.approx(expected, rel=1e-14)


def test_instance_generator_checks_and_plants_the_support():
    inst = make_group_sparse_instance(seed=5, n=50, group_sizes=[3, 3, 2, 4], n_active=2)
    assert inst.support.sum() == 2
    nonzero_groups = [np.any(inst.w_planted[g] != 0) for g in inst.problem.groups]
    assert nonzero_groups == inst.support.tolist()
    assert inst.problem.M >= np.max(np.abs(inst.w_planted))
    again = make_group_sparse_instance(seed=5, n=50, group_sizes=[3, 3, 2, 4], n_active=2)
    assert np.array_equal(inst.problem.X, again.problem.X)  # seeded
    with pytest.raises(ValueError, match="n_active must be <= the number of groups"):
        make_group_sparse_instance(seed=0, group_sizes=[2, 2], n_active=3)
    with pytest.raises(ValueError, match=r"correlation must lie in \[0, 1\)"):
        make_group_sparse_instance(seed=0, correlation=1.0)


def test_parameters_of_the_wrong_shape_or_type():
    with pytest.raises(ValueError, match=r"M must be a scalar or hold one value per entity \(3\)"):
        spr_penalty_many(np.full((3, 2), 0.1), 0.3, [1.0, 2.0])
    with pytest.raises(ValueError, match="alpha must be one number"):
        spr_penalty(np.full(2, 0.1), [0.2, 0.3], 1.0)
    with pytest.raises(TypeError, match="alpha must be a real number"):
        spr_penalty(np.full(2, 0.1), "0.3", 1.0)
    with pytest.raises(ValueError, match=r"groups\[0\] must be a 1-D array of column indices"):
        GroupSparseProblem(X, T, [0, 0, 1, 1], lam=1.0, alpha=0.5, M=1.0)
    with pytest.raises(ValueError, match="X is empty"):
        GroupSparseProblem(np.zeros((0, 4)), np.zeros(0), GROUPS, lam=1.0, alpha=0.5, M=1.0)
    with pytest.raises(ValueError, match=r"lam must be .* <= 1e\+08"):
        GroupSparseProblem(X, T, GROUPS, lam=1e16, alpha=0.5, M=1.0)
    with pytest.raises(ValueError, match="M must bound the planted weights"):
        make_group_sparse_instance(seed=0, M=1e-3)


def test_cli_names_an_unwritable_out(tmp_path):
    from spr_or.cli import main

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--instances", "1", "--out", str(blocker / "sub"), "--quiet", "--no-plots"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("command", [["prune", "--quiet"], ["sweep", "experiments/table1_resnet20_cifar10.yaml",
                                                             "--smoke", "--quiet", "--data-dir", "/nowhere"]])
def test_prune_and_sweep_name_an_unwritable_out(tmp_path, capsys, command):
    from spr_or.cli import main

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--out", str(blocker / "sub")])
    assert exit_info.value.code == 2
    assert f"error: cannot write the results to {blocker / 'sub'}" in capsys.readouterr().err


def test_report_of_a_folder_that_is_not_a_sweep(tmp_path, capsys):
    from spr_core.errors import MissingInput
    from spr_or.cli import main
    from spr_or.sweeps.report import write_sweep_report

    with pytest.raises(MissingInput, match="has no sweep.json"):
        write_sweep_report(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(tmp_path)])
    assert exit_info.value.code == 2 and "sweep_dir:" in capsys.readouterr().err
