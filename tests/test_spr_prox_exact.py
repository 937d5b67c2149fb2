"""The exact SPR prox (spr_core.spr_prox_core, numpy and torch twins) against the bisection oracle,
on random and adversarial entities, in float64 (to 1e-10) and float32 (to float32 precision)."""

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from relaxations import spr_prox_many
from spr_core import spr_prox_core
from spr_or.spr_prox_torch import spr_prox_rows

from .reference_prox_bisection import bisection_prox

TOL = 1e-10


def _torch_prox(U, tau, alpha, M, boxed=None, dtype=torch.float64):
    return spr_prox_rows(torch.from_numpy(U).to(dtype), torch.as_tensor(tau, dtype=torch.float64), alpha,
                         torch.as_tensor(M, dtype=torch.float64), boxed).double().numpy()


def _random_case(rng):
    rows, k = int(rng.integers(1, 40)), int(rng.integers(1, 60))
    U = rng.standard_normal((rows, k)) * 10 ** rng.uniform(-3, 1, size=(rows, 1))
    tau = 10 ** rng.uniform(-6, 2, size=rows)
    alpha = float(10 ** rng.uniform(-4, np.log10(0.999)))
    M = 10 ** rng.uniform(-2, 1, size=rows)
    return U, tau, alpha, M, int(rng.integers(0, k + 1))


@pytest.fixture(params=["pieces at once", "top pieces", "iteration"])
def method(request, monkeypatch):
    """Rows left after the closed form are solved on all pieces at once (small sets), on their top
    pieces (larger sets; the rest iterates), or by the safeguarded iteration alone: each is checked,
    by setting the size limits and how many top |u| the pieces come from."""
    if request.param != "pieces at once":
        monkeypatch.setattr(spr_prox_core, "WHOLE_ROWS_ON_HOST", 0)
        monkeypatch.setattr(spr_prox_core, "WHOLE_ROWS_ON_DEVICE", 0)
    if request.param == "top pieces":
        monkeypatch.setattr(spr_prox_core, "TOP_PIECES", 3)
    if request.param == "iteration":
        monkeypatch.setattr(spr_prox_core, "TOP_PIECES", 0)
    return request.param


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_random_entities_match_the_bisection_oracle(seed, method):
    rng = np.random.default_rng(seed)
    for _ in range(150):
        U, tau, alpha, M, boxed = _random_case(rng)
        V_ref, y_ref = bisection_prox(U, tau, alpha, M, boxed)
        assert np.max(np.abs(_torch_prox(U, tau, alpha, M, boxed) - V_ref)) <= TOL
        V_np, y_np = spr_prox_many(U, float(tau[0]), alpha, M)  # numpy twin: one tau, every column boxed
        V_ref, y_ref = bisection_prox(U, tau[0], alpha, M)
        assert np.max(np.abs(V_np - V_ref)) <= TOL
        assert np.max(np.abs(y_np - y_ref)) <= 1e-9


def _adversarial_cases():
    rng = np.random.default_rng(5)
    base = rng.standard_normal((6, 9))
    yield "all zero", np.zeros((4, 7)), 0.1, 0.3, 1.0, None
    yield "ties", np.full((5, 8), 0.37) * np.array([[1], [-1], [2], [0.01], [5]]), 0.05, 0.3, 1.0, None
    yield "one huge weight", np.hstack([np.full((3, 10), 1e-3), [[1e4], [-1e4], [1e2]]]), 0.1, 0.2, 2.0, None
    yield "unboxed columns", base * 3.0, 0.2, 0.3, 0.5, 6
    yield "only unboxed columns", base, 0.2, 0.3, 0.5, 0
    yield "tau = 0", base * 4.0, 0.0, 0.3, 1.0, 7
    yield "tau huge", base, 1e8, 0.3, 1.0, None
    yield "tau tiny", base, 1e-12, 0.3, 1.0, None
    yield "alpha near 0", base, 0.5, 1e-9, 1.0, None
    yield "alpha near 1", base, 0.5, 1 - 1e-9, 1.0, None
    yield "M binding", base * 10.0, 0.3, 0.3, 1e-2, None
    yield "M binding, unboxed", base * 10.0, 0.3, 0.3, 1e-2, 4
    yield "M loose", base * 1e-3, 0.001, 0.3, 1e3, None
    yield "one column", base[:, :1], 0.4, 0.5, 1.0, None


@pytest.mark.parametrize("name,U,tau,alpha,M,boxed", list(_adversarial_cases()), ids=lambda v: v if isinstance(v, str) else "")
def test_adversarial_entities_match_the_bisection_oracle(name, U, tau, alpha, M, boxed, method):
    V_ref, _ = bisection_prox(U, tau, alpha, M, boxed)
    V = _torch_prox(U, np.full(U.shape[0], tau), alpha, np.full(U.shape[0], M), boxed)
    scale = max(1.0, float(np.max(np.abs(U))) * 1e-4)  # a 1e4 weight carries 1e-12 relative rounding
    assert np.max(np.abs(V - V_ref)) <= TOL * scale, name
    assert np.array_equal(V == 0, V_ref == 0) or np.max(np.abs(V - V_ref)) <= TOL, name
    if boxed != 0:
        assert np.all(np.abs(V[:, :boxed]) <= M * (1 + 1e-15)), name
    if boxed is None:
        V_np, _ = spr_prox_many(U, tau, alpha, M)
        assert np.max(np.abs(V_np - V_ref)) <= TOL * scale, name


def test_pruned_entities_are_exact_zeros_in_both_twins():
    rng = np.random.default_rng(9)
    U = rng.standard_normal((300, 12)) * 10 ** rng.uniform(-3, 0, size=(300, 1))
    V_ref, y_ref = bisection_prox(U, 0.3, 0.2, 2.0)
    zero = y_ref == 0
    assert zero.any() and not zero.all()
    V_np, y_np = spr_prox_many(U, 0.3, 0.2, 2.0)
    assert np.all(V_np[zero] == 0.0) and np.all(y_np[zero] == 0.0) and np.all(y_np[~zero] > 0)
    assert np.all(_torch_prox(U, np.full(300, 0.3), 0.2, np.full(300, 2.0))[zero] == 0.0)


def test_float32_weights_get_float32_accuracy(method):
    rng = np.random.default_rng(21)
    worst = 0.0
    for _ in range(200):
        U, tau, alpha, M, boxed = _random_case(rng)
        U = U.astype(np.float32).astype(np.float64)  # the oracle sees the same float32 inputs
        V_ref, _ = bisection_prox(U, tau, alpha, M, boxed)
        V = _torch_prox(U, tau, alpha, M, boxed, dtype=torch.float32)
        worst = max(worst, float(np.max(np.abs(V - V_ref) / np.max(np.abs(U), axis=1, keepdims=True).clip(1e-30))))
    assert worst <= 1e-6  # float32 rounding, 2^-23 = 1.2e-7, a few times over


class _LargeFloat64Allocations(TorchDispatchMode):
    """Records the largest float64 tensor any torch operation returns."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor) and t.dtype == torch.float64:
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("M", [0.5, 0.05], ids=["closed form", "box binding: top pieces and iteration"])
def test_float32_prox_makes_no_float64_copy_of_the_weights(M):
    U = torch.randn(256, 300) * 0.05
    with _LargeFloat64Allocations() as recorder:
        spr_prox_rows(U, torch.full((256,), 0.01, dtype=torch.float64), 0.3, M, 290)
    # per-row vectors, and the top-k pieces of the rows left, never a (rows, k) float64 copy
    assert 0 < recorder.largest <= U.shape[0] * (spr_prox_core.TOP_PIECES + 1) < U.numel() // 10


def test_gpu_row_arithmetic_in_torch_matches_the_oracle(monkeypatch, method):
    """On a GPU the per-row work runs in torch (no host round trips); exercised here on the CPU."""
    from spr_or import spr_prox_torch

    monkeypatch.setattr(spr_prox_torch, "_row_library", spr_prox_torch._torch_rows)
    rng = np.random.default_rng(31)
    for _ in range(100):
        U, tau, alpha, M, boxed = _random_case(rng)
        V_ref, _ = bisection_prox(U, tau, alpha, M, boxed)
        assert np.max(np.abs(_torch_prox(U, tau, alpha, M, boxed) - V_ref)) <= TOL
