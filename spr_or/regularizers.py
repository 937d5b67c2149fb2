"""Regularizers on a partition of a model's parameters (spr_or.entities), behind one interface:

    reg = make_regularizer("spr", model, lam=1.1, alpha=0.01, M=ref_model, entities="filters")
    loss = criterion(model(x), y) + reg()

kinds: "spr" (eq. (5) of MATH.md: lam * sum_i (u_i / sum_k u_k) z_i, z the SPR in the chosen
variant), "bigm" (alpha ||w_i||^2 + (1 - alpha) ||w_i||_inf / M), "l1", "l2" (||w_i||^2) and
"group_lasso" (||w_i||_2), all with the same per-entity weighting: "size" (u_i / sum_k u_k, the
paper's Section 3.3) or "none" (1). M: a float, a dict {layer name: float}, or a reference model /
state_dict whose max |weight| per layer is taken (with a floor: dead layers get the floor and a
warning naming them, as the authors' checkpoints had layers with M ~ 1e-8).

``reg.prox_(step)`` applies the exact proximal step of step * lam * weight_i * z_i (spr, exact
variant) to the parameters: pruned entities become exact zeros (see spr_prox_torch.py).
"""

from __future__ import annotations

import functools
import numbers
import warnings

import torch
from torch import nn

from spr_core.arguments import check_alpha, check_big_m

from .entities import LayerEntities, build_partition
from .prox_batches import ProxBatch, plan_batches
from .spr_torch import VARIANTS, safe_sqrt, spr_from_norms

KINDS = ("spr", "bigm", "l1", "l2", "group_lasso")
WEIGHTINGS = ("size", "none")
DEFAULT_M_FLOOR = 1e-3


def _terms_from_matrices(kind, matrices, alpha, M, variant, boxed_widths):
    """Per-entity terms of all layers at once: per layer only the row reductions, then one
    vectorised formula over the concatenated entities (a few ops per layer, not dozens)."""
    if kind == "l1":
        return torch.cat([W.abs().sum(1) for W in matrices])
    wide = [W.float() if W.dtype in (torch.float16, torch.bfloat16) else W for W in matrices]
    b2 = torch.cat([(W * W).sum(1) for W in wide])
    if kind == "l2":
        return b2
    if kind == "group_lasso":
        return safe_sqrt(b2)
    # ||w||_inf over the boxed (main weight) columns only: tied biases / BatchNorm are not boxed
    a = torch.cat([W[:, :k].abs().amax(1) for W, k in zip(wide, boxed_widths)])
    if kind == "bigm":
        return alpha * b2 + (1.0 - alpha) * torch.clamp(a / M, max=1.0)
    return spr_from_norms(a, safe_sqrt(b2), b2, alpha, M, variant)


def resolve_M(M, layers: list[LayerEntities], floor: float = DEFAULT_M_FLOOR) -> dict[str, float]:
    """Per-layer M from a float, a dict, or a reference model / state_dict (max |weight|, floored)."""
    if torch.is_tensor(M) and M.dim() == 0:
        M = float(M)
    if isinstance(M, numbers.Real) and not isinstance(M, bool):
        value = check_big_m(M)
        return {layer.name: value for layer in layers}
    if isinstance(M, nn.Module):
        M = M.state_dict()
    is_reference = (isinstance(M, dict) and M and all(torch.is_tensor(v) for v in M.values())
                    and any(v.dim() > 0 for v in M.values()))  # a state_dict (0-dim entries: counters)
    if is_reference:
        out, dead = {}, []
        for layer in layers:
            key = layer.weight_name.replace("->bn", "")
            if key not in M:
                raise ValueError(f"M: the reference has no parameter {key!r} (layer {layer.name})")
            reference = M[key]
            own = layer.members[0].param
            if tuple(reference.shape) != tuple(own.shape):
                raise ValueError(f"M: reference {key!r} has shape {tuple(reference.shape)}, the model's "
                                 f"{tuple(own.shape)}; the reference must have the same architecture")
            value = float(reference.abs().max())
            if value < floor:
                dead.append(layer.name)
                value = floor
            out[layer.name] = value
        if dead:
            warnings.warn(f"M: layers {dead} of the reference are (nearly) dead (max |w| < {floor:g}); "
                          f"their M is set to the floor {floor:g}", stacklevel=3)
        return out
    if isinstance(M, dict):
        missing = [layer.name for layer in layers if layer.name not in M]
        if missing:
            raise ValueError(f"M: the per-layer dict has no value for layers {missing[:8]}")
        unknown = sorted(set(M) - {layer.name for layer in layers})
        if unknown:
            raise ValueError(f"M: the per-layer dict names layers the partition does not have: {unknown[:8]}")
        M = {k: float(v) if torch.is_tensor(v) else v for k, v in M.items()}
        return {layer.name: check_big_m(M[layer.name], name=f"M[{layer.name!r}]") for layer in layers}
    raise TypeError(f"M must be a float, a dict {{layer: float}}, a reference nn.Module or a state_dict; "
                    f"got {type(M).__name__}")


class Regularizer:
    """Callable penalty over a partition; see the module docstring."""

    def __init__(self, kind, layers, lam, alpha, M_per_layer, variant, weighting):
        self.kind, self.layers, self.lam, self.alpha, self.variant = kind, layers, lam, alpha, variant
        self.M = M_per_layer
        total = float(sum(int(layer.sizes.sum()) for layer in layers))
        self.weights = [layer.sizes.double() / total if weighting == "size"
                        else torch.ones(layer.n_entities, dtype=torch.float64) for layer in layers]
        # layers whose entity matrices have the same width are stacked into one matrix, so the
        # row reductions run once per width (4 widths in ResNet-56) instead of once per layer
        by_width: dict[tuple, list[int]] = {}
        for i, layer in enumerate(layers):
            by_width.setdefault(tuple(m.index.shape[1] for m in layer.members), []).append(i)
        self._stacks = list(by_width.values())
        self._boxed_widths = [layers[stack[0]].main_width for stack in self._stacks]
        order = [i for stack in self._stacks for i in stack]
        # float64 here; cast to the parameters' dtype at use (exact for float64 models)
        self._weight_vector = torch.cat([self.weights[i] for i in order])
        self._weight_cache: dict = {}
        self._M_vector = (torch.cat([torch.full((layers[i].n_entities,), self.M[layers[i].name], dtype=torch.float64)
                                     for i in order]) if self.M else None)

    def per_entity(self) -> torch.Tensor:
        """Unweighted per-entity terms of all layers, concatenated stack by stack (layers grouped by
        entity width, in order of first appearance)."""
        matrices = [torch.cat([self.layers[i].matrix() for i in stack]) if len(stack) > 1
                    else self.layers[stack[0]].matrix() for stack in self._stacks]
        M = None
        if self._M_vector is not None:
            if self._M_vector.device != matrices[0].device:
                self._M_vector = self._M_vector.to(matrices[0].device)
            M = self._M_vector
        return _terms_from_matrices(self.kind, matrices, self.alpha, M, self.variant, self._boxed_widths)

    def __call__(self) -> torch.Tensor:
        terms = self.per_entity()
        key = (terms.device, terms.dtype)
        if key not in self._weight_cache:  # the float64 weights, cast once per device and dtype
            self._weight_cache[key] = self._weight_vector.to(terms.device, terms.dtype)
        return self.lam * (self._weight_cache[key] * terms).sum()

    @functools.cached_property
    def _prox_batches(self) -> list[ProxBatch]:
        return [ProxBatch([self.layers[i] for i in batch], [self.lam * self.weights[i] for i in batch],
                          [self.M[self.layers[i].name] for i in batch], self.alpha)
                for batch in plan_batches(self.layers)]

    @torch.no_grad()
    def prox_(self, step) -> None:
        """Exact proximal step of step * lam * weight_i * z_i on every entity (kind "spr", variant
        "exact"); ``step`` is a number or a function of the LayerEntities (per-layer learning rates)."""
        if self.kind != "spr" or self.variant != "exact":
            raise ValueError("prox_ is defined for kind='spr' with variant='exact' only")
        # layers of similar widths in one padded call each (prox_batches.py), not one call per layer
        for batch in self._prox_batches:
            steps = [step(layer) if callable(step) else step for layer in batch.layers]
            for layer, layer_step in zip(batch.layers, steps):
                if not layer_step > 0:
                    raise ValueError(f"step must be > 0; got {layer_step!r} for layer {layer.name}")
            batch.apply(steps)


def make_regularizer(kind: str, model: nn.Module, lam: float, alpha: float | None = None, M=None,
                     entities="filters", variant: str = "exact", weighting: str = "size",
                     tie_bias: bool = False, tie_batchnorm: bool = False, M_floor: float = DEFAULT_M_FLOOR,
                     layer_names=None):
    """Build the regularizer ``kind`` over ``model``'s ``entities`` (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}; got {kind!r}")
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not lam >= 0 or lam == float("inf"):
        raise ValueError(f"lam must be a finite number >= 0; got {lam!r}")
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}; got {variant!r}")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {list(WEIGHTINGS)}; got {weighting!r}")
    layers = build_partition(model, entities, tie_bias=tie_bias, tie_batchnorm=tie_batchnorm, layer_names=layer_names)
    if kind in ("spr", "bigm"):
        if alpha is None or M is None:
            raise ValueError(f"kind {kind!r} needs alpha (in (0, 1)) and M (a float, per-layer dict or reference)")
        alpha = check_alpha(alpha)
        M_per_layer = resolve_M(M, layers, M_floor)
    else:
        M_per_layer = {}
    return Regularizer(kind, layers, float(lam), alpha, M_per_layer, variant, weighting)
