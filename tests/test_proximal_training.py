"""Proximal SPR training reaches the projected-SPR optimum with exact zeros; subgradient training
reaches the same objective only approximately and leaves no exact zeros."""

import numpy as np
import pytest
import torch
from torch import nn

from mip_models import make_group_sparse_instance
from relaxations import solve_relaxation
from relaxations.projected_spr import projected_spr_objective
from spr_or import make_regularizer
from spr_or.proximal import ProximalSPR


def _setup():
    problem = make_group_sparse_instance(seed=7, n=200, group_sizes=[3] * 6, n_active=2, correlation=0.3,
                                         noise=0.5, lam=0.3, alpha=0.2).problem
    X, t = torch.from_numpy(problem.X), torch.from_numpy(problem.t)
    model = nn.Linear(problem.n_features, 1, bias=False).double()
    nn.init.zeros_(model.weight)
    labels = torch.zeros(1, problem.n_features, dtype=torch.long)
    for i, g in enumerate(problem.groups):
        labels[0, torch.from_numpy(g)] = i
    reg = make_regularizer("spr", model, lam=problem.lam, alpha=problem.alpha, M=problem.M,
                           entities={"weight": labels}, weighting="none")
    return problem, X, t, model, reg


def test_proximal_training_reaches_the_optimum_with_exact_zeros():
    problem, X, t, model, reg = _setup()
    optimum = solve_relaxation(problem, "projected_spr")
    lipschitz = 2 * np.linalg.norm(problem.X, 2) ** 2 / problem.n_samples
    opt = ProximalSPR(torch.optim.SGD(model.parameters(), lr=1.0 / lipschitz), reg)
    for _ in range(600):
        opt.zero_grad()
        ((X @ model.weight[0] - t) ** 2).mean().backward()
        opt.step()
    w = model.weight.detach()[0].numpy()
    assert projected_spr_objective(problem, w) == pytest.approx(optimum.objective, rel=1e-8)
    zero_groups = [np.all(w[g] == 0.0) for g in problem.groups]
    optimum_zero = [np.all(optimum.w[g] == 0.0) for g in problem.groups]
    assert any(zero_groups) and zero_groups == optimum_zero  # exact zeros, the same groups as the optimum

    # subgradient training of loss + penalty: the same objective to 0.5%, but no exact zeros
    _, X, t, model2, reg2 = _setup()
    sgd = torch.optim.SGD(model2.parameters(), lr=0.5 / lipschitz)
    scheduler = torch.optim.lr_scheduler.LambdaLR(sgd, lambda k: 1.0 / np.sqrt(1 + k / 50))
    for _ in range(2500):
        sgd.zero_grad()
        (((X @ model2.weight[0] - t) ** 2).mean() + reg2()).backward()
        sgd.step()
        scheduler.step()
    w2 = model2.weight.detach()[0].numpy()
    assert projected_spr_objective(problem, w2) == pytest.approx(optimum.objective, rel=5e-3)
    assert not any(np.all(w2[g] == 0.0) for g in problem.groups)


