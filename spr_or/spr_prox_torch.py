"""Exact proximal step of the SPR in PyTorch, per entity (rows of U), with a per-row step tau:

    prox(u) = argmin_v 1/2 ||v - u||^2 + tau * z(v; alpha, M)   s.t. ||v||_inf <= M,

the torch twin of relaxations/spr_prox.py (same derivation; a test holds the two equal): for fixed
y the minimiser is v_j(y) = sign(u_j) min(|u_j| y / (y + 2 tau alpha), M y); the convex function of y
left has the non-decreasing derivative

    g'(y) = tau (1 - alpha) - tau alpha sum_j min(|u_j| / (y + 2 tau alpha), M)^2
            - M sum_j max(0, |u_j| - M (y + 2 tau alpha)),

so y* = 0 (v = 0 exactly: the entity is pruned) when g'(0+) >= 0, y* = 1 when g'(1) <= 0, otherwise
the root of g' by bisection.
"""

from __future__ import annotations

import torch

BISECTION_STEPS = 48  # y to 2^-48 ~ 4e-15: below float64 noise in the weights


def _derivative(abs_u, y, tau, alpha, M, boxed):
    s = (y + 2.0 * tau * alpha).unsqueeze(1)
    M_col = torch.where(boxed, M.unsqueeze(1), torch.full_like(M.unsqueeze(1), float("inf")))
    shrunk = torch.minimum(abs_u / s, M_col)
    excess = torch.where(boxed, torch.clamp(abs_u - M.unsqueeze(1) * s, min=0.0), torch.zeros_like(abs_u))
    return tau * (1.0 - alpha) - tau * alpha * (shrunk * shrunk).sum(1) - M * excess.sum(1)


@torch.no_grad()
def spr_prox_rows(U: torch.Tensor, tau: torch.Tensor, alpha: float, M, boxed_columns: int | None = None) -> torch.Tensor:
    """Prox of tau_i * z (plus the box) for every row of U; tau and M scalars or one value per row.
    Only the first ``boxed_columns`` columns (default: all) are held in [-M, M] and enter
    ||w||_inf; the others (a tied bias or BatchNorm scale) are penalised but unboxed: for them
    min(., M) is dropped from v_j(y) and g'(y)."""
    work = U.double() if U.dtype != torch.float64 else U
    rows = work.shape[0]
    tau = torch.as_tensor(tau, dtype=work.dtype, device=work.device).expand(rows).clone()
    M = torch.as_tensor(M, dtype=work.dtype, device=work.device).expand(rows).clone()
    abs_u = work.abs()
    boxed = torch.arange(work.shape[1], device=work.device) < (work.shape[1] if boxed_columns is None else boxed_columns)
    boxed = boxed.unsqueeze(0)
    zero, one = torch.zeros_like(tau), torch.ones_like(tau)
    to_zero = _derivative(abs_u, zero, tau, alpha, M, boxed) >= 0
    at_one = _derivative(abs_u, one, tau, alpha, M, boxed) <= 0
    lo, hi = zero.clone(), one.clone()
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        positive = _derivative(abs_u, mid, tau, alpha, M, boxed) > 0
        hi = torch.where(positive, mid, hi)
        lo = torch.where(positive, lo, mid)
    y = torch.where(to_zero, zero, torch.where(at_one, one, 0.5 * (lo + hi)))
    scale = (y / (y + 2.0 * tau * alpha)).unsqueeze(1)
    cap = torch.where(boxed, (M * y).unsqueeze(1), torch.full_like(abs_u, float("inf")))
    V = torch.sign(work) * torch.minimum(abs_u * scale, cap)
    V[to_zero] = 0.0
    return V.to(U.dtype)
