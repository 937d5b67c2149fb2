"""Regularizers on a partition of a model's parameters (spr_or.entities), behind one interface:

    reg = make_regularizer("spr", model, lam=1.1, alpha=0.01, M=ref_model, entities="filters")
    loss = criterion(model(x), y) + reg()

The kinds are objects registered in regularizer_kinds.py (``KINDS``): "spr" (eq. (5) of MATH.md:
lam * sum_i (u_i / sum_k u_k) z_i, z the SPR in the chosen variant), "bigm", "l1", "l2",
"group_lasso", and "tp_group_norm" (Torch-Pruning's GroupNormPruner, a hook on the gradients), all
penalties with the same per-entity weighting: "size" (u_i / sum_k u_k, the paper's Section 3.3) or
"none" (1). M: a float, a dict {layer name: float}, or a reference model /
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
from spr_core.errors import InvalidArgument, InvalidArgumentType

from .entities import LayerEntities, build_partition
from .prox_batches import ProxBatch, plan_batches
from .regularizer_kinds import KINDS, EntityNorms, RegularizerKind, get_kind
from .spr_torch import VARIANTS

__all__ = ["KINDS", "WEIGHTINGS", "Regularizer", "make_regularizer", "resolve_M"]

WEIGHTINGS = ("size", "none")
DEFAULT_M_FLOOR = 1e-3


def resolve_M(M, layers: list[LayerEntities], floor: float = DEFAULT_M_FLOOR) -> dict[str, float]:
    """Per-layer M (the box |w| <= M of MATH.md's definition) from a float, a dict, or a reference.

    Parameters
    ----------
    M : float, dict, nn.Module or state_dict
        One value for every layer; ``{layer name: value}``; or a reference model / state_dict whose
        max |weight| per layer is taken (over the layer's boxed weights: per group for "groups").
    layers : list of LayerEntities
        The partition (spr_or.entities.build_partition).
    floor : float
        The smallest M taken from a reference (dead layers get it, with a warning naming them).

    Returns
    -------
    dict
        ``{layer name: M}``.
    """
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
            value = _reference_max(M, layer)
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
            raise InvalidArgument(f"M: the per-layer dict has no value for layers {missing[:8]}")
        unknown = sorted(set(M) - {layer.name for layer in layers})
        if unknown:
            raise InvalidArgument(f"M: the per-layer dict names layers the partition does not have: {unknown[:8]}")
        M = {k: float(v) if torch.is_tensor(v) else v for k, v in M.items()}
        return {layer.name: check_big_m(M[layer.name], name=f"M[{layer.name!r}]") for layer in layers}
    raise InvalidArgumentType(f"M must be a float, a dict {{layer: float}}, a reference nn.Module or a state_dict; "
                    f"got {type(M).__name__}")


def _reference_max(reference: dict, layer: LayerEntities) -> float:
    """max |w| of the reference over the layer's boxed weights (the filters; for dependency groups,
    every writer's slice of the group: M per group)."""
    value = 0.0
    for member in layer.members[:layer.n_boxed]:
        if member.name not in reference:
            raise InvalidArgument(f"M: the reference has no parameter {member.name!r} (layer {layer.name})")
        tensor = reference[member.name]
        if tuple(tensor.shape) != tuple(member.param.shape):
            raise InvalidArgument(f"M: reference {member.name!r} has shape {tuple(tensor.shape)}, the model's "
                                  f"{tuple(member.param.shape)}; the reference must have the same architecture")
        flat = tensor.detach().reshape(-1).to(member.index.device)
        valid = member.index[member.index >= 0]
        if valid.numel():
            value = max(value, float(flat[valid].abs().max()))
    return value


class Regularizer:
    """Callable penalty over a partition (see the module docstring); build it with make_regularizer.

    ``reg()`` is the penalty lam * sum_i weight_i t_i (a differentiable scalar), ``reg.prox_(step)``
    its exact proximal step where the kind has one, and ``reg.after_backward`` (None, or a function
    to call between ``loss.backward()`` and ``optimizer.step()``) the kind's hook on the gradients.
    """

    def __init__(self, kind: RegularizerKind, layers, lam, alpha, M_per_layer, variant, weighting, hook=None):
        self.kind, self.layers, self.lam, self.alpha, self.variant = kind, layers, lam, alpha, variant
        self.after_backward = hook.after_backward if hook is not None else None
        self.M = M_per_layer
        total = float(sum(int(layer.sizes.sum()) for layer in layers))
        self.weights = [layer.sizes.double() / total if weighting == "size"
                        else torch.ones(layer.n_entities, dtype=torch.float64) for layer in layers]
        # layers whose entity matrices have the same width are stacked into one matrix, so the
        # row reductions run once per width (4 widths in ResNet-56) instead of once per layer
        by_width: dict[tuple, list[int]] = {}
        for i, layer in enumerate(layers):
            by_width.setdefault((layer.n_boxed, tuple(m.index.shape[1] for m in layer.members)), []).append(i)
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
        if not self.kind.has_penalty:
            raise InvalidArgument(f"kind {self.kind.name!r} has no penalty: it acts on the gradients "
                                  "(call reg.after_backward() after loss.backward())")
        return self.kind.terms(EntityNorms(matrices, self._boxed_widths), self.alpha, M, self.variant)

    def __call__(self) -> torch.Tensor:
        """The penalty lam * sum_i weight_i t_i over every entity (eq. (5) for the SPR)."""
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
        if not self.kind.has_prox(self.variant):
            raise InvalidArgument(f"prox_: kind {self.kind.name!r} with variant {self.variant!r} has no exact prox "
                                  f"(kinds with one: {[k.name for k in KINDS.values() if k.prox_variants]})")
        # layers of similar widths in one padded call each (prox_batches.py), not one call per layer
        for batch in self._prox_batches:
            steps = [step(layer) if callable(step) else step for layer in batch.layers]
            for layer, layer_step in zip(batch.layers, steps):
                if not layer_step > 0:
                    raise InvalidArgument(f"step must be > 0; got {layer_step!r} for layer {layer.name}")
            batch.apply(steps)


def make_regularizer(kind: str, model: nn.Module, *, lam: float, alpha: float | None = None, M=None,
                     entities="filters", variant: str = "exact", weighting: str = "size", tie_bias: bool = False,
                     tie_batchnorm: bool = False, M_floor: float = DEFAULT_M_FLOOR, layer_names=None,
                     ignored_layers=(), example_input: torch.Tensor | None = None) -> Regularizer:
    """Build the regularizer ``kind`` over ``model``'s ``entities`` (see the module docstring).

    Parameters
    ----------
    kind : str or RegularizerKind
        One of ``KINDS`` (regularizer_kinds.py).
    model : nn.Module
        The network whose parameters are partitioned into entities.
    lam : float
        The penalty's weight, finite and >= 0.
    alpha : float, optional
        In (0, 1); needed by the kinds with ``needs_M`` (spr, bigm).
    M : float, dict, nn.Module or state_dict, optional
        The box bound per layer (resolve_M); needed by the kinds with ``needs_M``.
    entities : str or dict
        An entity kind of spr_or.entities.ENTITY_KINDS, or a user partition.
    variant : str
        The SPR's closed form: "exact" (MATH.md), "paper" or "paper_code" (spr_torch.VARIANTS).
    weighting : str
        "size" (u_i / sum_k u_k, the paper's Section 3.3) or "none".
    tie_bias, tie_batchnorm : bool
        A filter's bias / following BatchNorm scale and shift belong to its entity.
    M_floor : float
        The smallest M taken from a reference.
    layer_names : list of str, optional
        Only these layers (default: every layer with entities of that kind).
    ignored_layers : list of str
        Modules left out of the entities (build_partition).
    example_input : torch.Tensor, optional
        One batch of inputs: the model's output layers are then left out of the entities
        (build_partition), and the kinds with a gradient hook (tp_group_norm) need it.

    Returns
    -------
    Regularizer
    """
    kind = get_kind(kind)
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not lam >= 0 or lam == float("inf"):
        raise InvalidArgument(f"lam must be a finite number >= 0; got {lam!r}")
    if variant not in VARIANTS:
        raise InvalidArgument(f"variant must be one of {list(VARIANTS)}; got {variant!r}")
    if weighting not in WEIGHTINGS:
        raise InvalidArgument(f"weighting must be one of {list(WEIGHTINGS)}; got {weighting!r}")
    layers = build_partition(model, entities, tie_bias=tie_bias, tie_batchnorm=tie_batchnorm, layer_names=layer_names,
                             ignored_layers=ignored_layers, example_input=example_input)
    M_per_layer = {}
    if kind.needs_M:
        if alpha is None or M is None:
            raise InvalidArgument(f"kind {kind.name!r} needs alpha (in (0, 1)) and M (a float, per-layer dict or "
                                  "reference)")
        alpha = check_alpha(alpha)
        M_per_layer = resolve_M(M, layers, M_floor)
    hook = None
    if kind.gradient_hook is not None:
        if example_input is None:
            raise InvalidArgument(f"kind {kind.name!r} needs example_input (one batch of the model's inputs)")
        writers = list(dict.fromkeys(name for layer in layers for name in layer.writer_modules))
        hook = kind.gradient_hook(model, example_input, writers, float(lam))
    return Regularizer(kind, layers, float(lam), alpha, M_per_layer, variant, weighting, hook)
