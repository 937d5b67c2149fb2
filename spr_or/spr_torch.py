"""The SPR in PyTorch, vectorised over entities: W of shape (entities, k) -> z of shape (entities,).

Same three forms as relaxations (numpy), from the same definition (../shared/MATH.md, and
docs/validation.md for the derivation), with a = ||W[i]||_inf, b = ||W[i]||_2, c = sqrt(alpha/(1-alpha)):

    "exact"       box (c b <= a/M): alpha M b^2/a + (1-alpha) a/M;  interior: 2 sqrt(alpha(1-alpha)) b;
                  capped (c b >= 1): alpha b^2 + (1-alpha)
    "paper"       the printed form;   "paper_code"  the authors' public code's form

In training a weight may leave the box |w| <= M on which z is defined (+inf outside). Like the
authors' code, a/M is then clamped to 1 (y = 1): z = alpha ||w||^2 + (1 - alpha), the continuous
extension of the box regime at a = M. The numpy forms in relaxations raise instead.

Entities with ||w||_inf <= 1e-30 M (values below ~1e-29) take the interior formula, so that no
reciprocal of a subnormal a/M can overflow into an infinite or NaN gradient.

Zero entities give z = 0 with a zero (finite) gradient: every square root and division is taken on
a safe operand and the branch is selected with torch.where. The arithmetic runs in float32 at least
(under autocast W may be bf16/fp16; the norms are accumulated in float32).
"""

from __future__ import annotations

import torch

from spr_core.arguments import check_alpha, check_big_m
from spr_core.errors import InvalidArgument
from spr_core.penalties import SPR_VARIANTS

#: the variant names, one list for numpy and torch: the numpy registry's (spr_core.penalties)
VARIANTS = tuple(SPR_VARIANTS)
PAPER_CODE_LINF_FLOOR = 1e-10
#: below this a/M the box branch (which divides by a/M) is not used
TINY_BOX_RATIO = 1e-30


def rows_norms(W: torch.Tensor):
    """(a, b, b^2) per row of W: ||W[i]||_inf, ||W[i]||_2 (0 with a zero gradient at 0), ||W[i]||_2^2,
    accumulated in float32 at least."""
    W = W.float() if W.dtype in (torch.float16, torch.bfloat16) else W
    b2 = (W * W).sum(dim=1)
    return W.abs().amax(dim=1), safe_sqrt(b2), b2


def safe_sqrt(b2: torch.Tensor) -> torch.Tensor:
    """sqrt with value 0 and gradient 0 at 0 (never NaN)."""
    positive = b2 > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, b2, torch.ones_like(b2))), torch.zeros_like(b2))


def spr_penalty_many(W: torch.Tensor, alpha: float, M, *, variant: str = "exact") -> torch.Tensor:
    """Per-entity SPR z_i of the rows of W (the torch twin of relaxations.spr_penalty_many).

    Parameters
    ----------
    W : torch.Tensor
        Shape (entities, k >= 1): one entity per row.
    alpha : float
        In (0, 1).
    M : float or torch.Tensor
        The box bound: one value, or one per row (finite, > 0).
    variant : str
        "exact" (MATH.md's definition), "paper" (the printed form) or "paper_code" (the authors' code).

    Returns
    -------
    torch.Tensor
        Shape (entities,), differentiable; a zero row gives 0 with a zero gradient.
    """
    if W.dim() != 2 or W.shape[1] == 0:
        raise InvalidArgument(f"W must have shape (entities, k >= 1); got {tuple(W.shape)}")
    if not bool(torch.isfinite(W).all()):  # as the numpy twin: a NaN entity must not read as z = 0
        raise InvalidArgument("W contains NaN or inf")
    return spr_from_norms(*rows_norms(W), alpha, M, variant)


#: the name README.md and DESIGN.md show: rows in, one z_i per row out (as spr_penalty_many)
spr_penalty = spr_penalty_many


def spr_from_norms(a: torch.Tensor, b: torch.Tensor, b2: torch.Tensor, alpha: float, M,
                   variant: str = "exact") -> torch.Tensor:
    """z from the per-entity norms (a, b, b^2); vectorised over entities of any layers at once."""
    if variant not in VARIANTS:
        raise InvalidArgument(f"variant must be one of {list(VARIANTS)}; got {variant!r}")
    alpha = check_alpha(alpha)
    if not torch.is_tensor(M):
        M = check_big_m(M)
    elif not bool(torch.isfinite(M).all()) or bool((M <= 0).any()):
        raise InvalidArgument("M must be finite and > 0 (every entry of the tensor)")
    M = torch.as_tensor(M, dtype=a.dtype, device=a.device)
    c = (alpha / (1.0 - alpha)) ** 0.5
    lower = torch.clamp(a / M, max=1.0)
    cb = c * b
    has_lower = lower > TINY_BOX_RATIO
    safe_lower = torch.where(has_lower, lower, torch.ones_like(lower))
    if variant == "exact":
        box = alpha * b2 / safe_lower + (1.0 - alpha) * lower
        interior = 2.0 * (alpha * (1.0 - alpha)) ** 0.5 * b
        capped = alpha * b2 + (1.0 - alpha)
        return torch.where((cb <= lower) & has_lower, box, torch.where(cb >= 1.0, capped, interior))
    if variant == "paper":
        first = (lower <= cb) & (cb <= 1.0)
        second = ~first & (cb <= lower) & (lower <= 1.0)
        return torch.where(first, (1.0 + alpha) / c * b,
                           torch.where(second, b2 / safe_lower + (1.0 - alpha) * lower, b2 + (1.0 - alpha)))
    capped = torch.maximum(lower, cb) >= 1.0
    interior = ~capped & (lower <= cb)
    return torch.where(capped, b2 + (1.0 - alpha),
                       torch.where(interior, (1.0 + alpha) * cb,
                                   M * b2 / torch.clamp(a, min=PAPER_CODE_LINF_FLOOR) + (1.0 - alpha) * lower))
