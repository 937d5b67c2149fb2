"""The regularizer kinds, each an object registered once (DESIGN.md: "a regularizer kind is an
object"). Everything that depends on the kind — the penalty, whether it has an exact prox, whether
it needs alpha and M, a hook on the gradients — is asked of the object, never tested by name.

Per-entity terms t_i of the penalty lam * sum_i weight_i t_i (eq. (5) of MATH.md for the SPR), from
a = ||w_i||_inf over the boxed columns and b = ||w_i||_2:

    spr          z_i, the SPR in the chosen variant (spr_torch.py; "exact" = MATH.md's definition)
    bigm         alpha b^2 + (1 - alpha) a / M   (the big-M relaxation's value at y = a / M)
    l1           ||w_i||_1
    l2           b^2
    group_lasso  b
    tp_group_norm  no penalty: Torch-Pruning's GroupNormPruner shrinks the gradients of whole coupled
                 groups after each backward pass (tp_group_norm.py)
    bn_slimming  network slimming (Liu et al., ICCV 2017): lam * sum_c |gamma_c| over the BatchNorm
                 scales of the entities' channels, not a per-entity term: its subgradient
                 lam * sign(gamma_c) is added to the scales' gradients after each backward pass
                 (batchnorm_scales.py; ranked for pruning by ``prune.score: bn_scale``)

Adding a kind is one ``register_kind(RegularizerKind(...))``: the config's choices, the CLI and the
docs read ``KINDS``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import torch

from spr_core.errors import InvalidArgument

from .batchnorm_scales import BatchNormSlimming
from .spr_torch import safe_sqrt, spr_from_norms
from .tp_group_norm import GroupNormRegularizer


@dataclass
class EntityNorms:
    """What the closed forms read from every entity row, for the entities of all layers at once:
    the rows themselves (widened to float32 at least), ||w||_2^2 and ||w||_inf over the boxed
    (main weight) columns; each computed only when a kind asks for it."""

    matrices: list[torch.Tensor]
    boxed_widths: list[int]

    @functools.cached_property
    def _wide(self) -> list[torch.Tensor]:
        """The rows, float16/bfloat16 widened to float32 (once, for every norm that needs it)."""
        return [W.float() if W.dtype in (torch.float16, torch.bfloat16) else W for W in self.matrices]

    @functools.cached_property
    def squared(self) -> torch.Tensor:
        """||w_i||_2^2 of every entity row (all columns, boxed or not), all layers concatenated;
        float16/bfloat16 rows are summed in float32."""
        return torch.cat([(W * W).sum(1) for W in self._wide])

    @functools.cached_property
    def linf_boxed(self) -> torch.Tensor:
        """||w_i||_inf over each row's boxed columns (the first ``boxed_widths`` of its layer: the main
        weight, the a of the SPR's box ||w||_inf / M <= y), all layers concatenated."""
        # ||w||_inf over the boxed columns only: tied biases / BatchNorm are not boxed
        return torch.cat([W[:, :k].abs().amax(1) for W, k in zip(self._wide, self.boxed_widths)])

    @property
    def l1(self) -> torch.Tensor:
        """||w_i||_1 of every entity row (all columns), all layers concatenated, in the rows' dtype."""
        return torch.cat([W.abs().sum(1) for W in self.matrices])


#: terms(norms, alpha, M, variant) -> per-entity terms (a tensor with one value per entity)
Terms = Callable[[EntityNorms, float, torch.Tensor, str], torch.Tensor]


@dataclass(frozen=True)
class RegularizerKind:
    """One kind of regularizer.

    Parameters
    ----------
    name : str
        The name used in configs and ``make_regularizer``.
    summary : str
        One line for help texts and docs.
    terms : callable or None
        ``terms(norms, alpha, M, variant)``: the unweighted per-entity terms; None for a kind that
        acts on the gradients only (``gradient_hook``).
    needs_M : bool
        alpha in (0, 1) and the box bound M are part of its definition.
    prox_variants : tuple of str
        The variants that have an exact proximal step (``Regularizer.prox_``).
    gradient_hook : callable or None
        ``gradient_hook(model, example_input, layer_names, lam)`` -> an object whose
        ``after_backward()`` runs between ``loss.backward()`` and ``optimizer.step()``.
    """

    name: str
    summary: str
    terms: Terms | None
    needs_M: bool = False
    prox_variants: tuple[str, ...] = ()
    gradient_hook: Callable | None = None

    @property
    def has_penalty(self) -> bool:
        """Whether it adds a term to the loss (else it acts through ``gradient_hook``)."""
        return self.terms is not None

    def has_prox(self, variant: str) -> bool:
        """Whether the exact proximal step exists for this kind in ``variant``."""
        return variant in self.prox_variants

    def __str__(self) -> str:
        return self.name


KINDS: dict[str, RegularizerKind] = {}


def register_kind(kind: RegularizerKind) -> RegularizerKind:
    """Add ``kind`` to KINDS (its name must be new)."""
    if kind.name in KINDS:
        raise InvalidArgument(f"regularizer kind {kind.name!r} is registered already")
    KINDS[kind.name] = kind
    return kind


def get_kind(name) -> RegularizerKind:
    """The registered kind called ``name`` (a RegularizerKind passes through)."""
    if isinstance(name, RegularizerKind):
        return name
    if name not in KINDS:
        raise InvalidArgument(f"kind must be one of {list(KINDS)}; got {name!r}")
    return KINDS[name]


def _spr_terms(norms: EntityNorms, alpha, M, variant):
    b2 = norms.squared
    return spr_from_norms(norms.linf_boxed, safe_sqrt(b2), b2, alpha, M, variant)


def _bigm_terms(norms: EntityNorms, alpha, M, variant):
    return alpha * norms.squared + (1.0 - alpha) * torch.clamp(norms.linf_boxed / M, max=1.0)


register_kind(RegularizerKind("spr", "the Structured Perspective Regularization z_i (MATH.md)", _spr_terms,
                              needs_M=True, prox_variants=("exact",)))
register_kind(RegularizerKind("bigm", "the big-M relaxation's penalty alpha ||w||^2 + (1 - alpha) ||w||_inf / M",
                              _bigm_terms, needs_M=True))
register_kind(RegularizerKind("l1", "||w_i||_1", lambda norms, alpha, M, variant: norms.l1))
register_kind(RegularizerKind("l2", "||w_i||_2^2", lambda norms, alpha, M, variant: norms.squared))
register_kind(RegularizerKind("group_lasso", "||w_i||_2",
                              lambda norms, alpha, M, variant: safe_sqrt(norms.squared)))
register_kind(RegularizerKind("tp_group_norm", "Torch-Pruning's GroupNormPruner on the gradients of coupled groups",
                              None, gradient_hook=GroupNormRegularizer))
register_kind(RegularizerKind("bn_slimming", "network slimming (Liu et al. 2017): lam * sum |gamma| over the entities' "
                              "BatchNorm scales, on the gradients", None, gradient_hook=BatchNormSlimming))
