"""Exact proximal step of the SPR in PyTorch, per entity (rows of U), with a per-row step tau:

    prox(u) = argmin_v 1/2 ||v - u||^2 + tau * z(v; alpha, M)   s.t. ||v||_inf <= M,

the torch twin of relaxations/spr_prox.py: both run spr_core/spr_prox_core.py (the exact root of
the derivative in y, piece by piece), and tests hold them equal and equal to a bisection oracle.
For the minimising y, v_j = sign(u_j) min(|u_j| y / (y + 2 tau alpha), M y); y = 0 gives v = 0
exactly (the entity is pruned). The passes over the weights run in U's dtype on U's device (no
float64 copy of the weights); the per-row arithmetic in float64, in numpy for CPU tensors (a
microsecond per call on small arrays) and in torch on a GPU (no transfers, no host round trips
beyond one per pass).
"""

from __future__ import annotations

import numpy as np
import torch

from spr_core.spr_prox_core import RowBlock, prox_y


def _numpy_rows(U: torch.Tensor):
    """(xp, to_rows, to_elements, index) with the per-row work in numpy (CPU tensors)."""
    return np, lambda x: x.to(torch.float64).numpy(), lambda x: torch.from_numpy(x).to(U.dtype), torch.from_numpy


def _torch_rows(U: torch.Tensor):
    """The same with the per-row work in torch on U's device (GPU tensors: no transfers)."""
    return torch, lambda x: x.to(torch.float64), lambda x: x.to(U.dtype), lambda x: x


def _top_ascending(x: torch.Tensor, k: int) -> torch.Tensor:
    return torch.topk(x, k, dim=1).values.flip(1)


def _row_library(U: torch.Tensor):
    return _numpy_rows(U) if U.device.type == "cpu" else _torch_rows(U)


@torch.no_grad()
def spr_prox_rows(U: torch.Tensor, tau, alpha: float, M, boxed_columns: int | None = None) -> torch.Tensor:
    """Prox of tau_i * z (plus the box) for every row of U; tau and M scalars or one value per row.
    Only the first ``boxed_columns`` columns (default: all) are held in [-M, M] and enter
    ||w||_inf; the others (a tied bias or BatchNorm scale) are penalised but unboxed."""
    rows, width = U.shape
    boxed = width if boxed_columns is None else boxed_columns
    xp, to_rows, to_elements, index = _row_library(U)
    tau = to_rows(torch.as_tensor(tau, dtype=torch.float64, device=U.device).expand(rows))
    M = to_rows(torch.as_tensor(M, dtype=torch.float64, device=U.device).expand(rows))
    abs_boxed = U[:, :boxed].abs()
    free = U[:, boxed:]
    squares_free = to_rows((free * free).sum(1))
    block = RowBlock(abs_boxed, to_rows, to_elements, index, _top_ascending)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        stats = (to_rows(abs_boxed.amax(1)) if boxed else 0.0 * tau, to_rows(block.squares.sum(1)) + squares_free)
        y = prox_y(block, squares_free, stats, tau, float(alpha), M, xp, host=xp is np)
        scale = y / (y + 2.0 * tau * alpha)  # 0 for pruned rows (y = 0 < tau); NaN rows stay NaN
    V = U * to_elements(scale)[:, None]
    cap = to_elements(M * y)[:, None]
    V[:, :boxed] = torch.minimum(torch.maximum(V[:, :boxed], -cap), cap)
    return V
