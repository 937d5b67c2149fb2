"""Network slimming (Liu et al., ICCV 2017, "Learning Efficient Convolutional Networks through
Network Slimming"): an l1 penalty on the BatchNorm scales gamma of the channels that can be pruned,
and the ranking of those channels by |gamma|.

    penalty   lam * sum_c |gamma_c|, over every BatchNorm channel on the output channels of the
              entities' layers (Liu et al.'s eq. (1): unweighted, one term per BatchNorm channel;
              ``regularizer.weighting`` does not apply). Its subgradient lam * sign(gamma_c) (0 at
              gamma_c = 0, as autograd's |.|) is added to gamma's gradient after each backward pass,
              as the authors' code (``updateBN``) and Torch-Pruning's ``BNScalePruner.regularize`` do,
              so the kind ``bn_slimming`` (regularizer_kinds.py) is a gradient hook, as
              ``tp_group_norm`` is; ``BatchNormSlimming.penalty()`` gives its value.
    score     ``prune.score: bn_scale`` (``bn_scale_scores``): per entity, the mean |gamma| over the
              BatchNorm channels the entity holds (one for a filter with its BatchNorm; every norm on
              the channel for a residual stream, as Torch-Pruning's BNScaleImportance averages a
              group). Not normalised per layer: Liu et al. prune below one global threshold.

Which BatchNorm channels belong to the entities: for the penalty, those Torch-Pruning's dependency
graph couples to the output channels of the entities' writers (the BatchNorm after a filter; every
BatchNorm of a residual stream); for the score, the BatchNorm members of the entities themselves
(``entities: groups`` holds the norms of the channel, ``entities: filters`` the BatchNorm that follows
the filter, which the pipeline always ties). A model without an affine BatchNorm on some entity's
channel gets ``NoBatchNormScales`` naming the layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from spr_core.errors import InvalidArgument

from .dependency_groups import ROOT_TYPES, trace_dependencies
from .layer_entities import LayerEntities

#: the name of the score (``prune.score``) that ranks entities by |gamma|
BN_SCALE_SCORE = "bn_scale"
BATCHNORMS = (nn.modules.batchnorm._BatchNorm,)


class NoBatchNormScales(InvalidArgument):
    """Network slimming was asked of layers whose channels have no affine BatchNorm."""


def _is_scaled_batchnorm(module) -> bool:
    return isinstance(module, BATCHNORMS) and module.affine


@dataclass
class BatchNormChannels:
    """The channels ``channels`` of the affine BatchNorm ``module`` (called ``name``) that are on an
    entity's channel."""

    name: str
    module: nn.Module
    channels: torch.Tensor  # long, sorted

    @property
    def gamma(self) -> torch.Tensor:
        """The scales of these channels (differentiable w.r.t. the module's weight)."""
        return self.module.weight[self.channels.to(self.module.weight.device)]


def entity_batchnorms(model: nn.Module, example_input: torch.Tensor, layer_names) -> list[BatchNormChannels]:
    """The BatchNorm channels coupled to the output channels of the layers ``layer_names`` (the
    writers of the entities), from Torch-Pruning's dependency graph of ``model`` on ``example_input``.

    Raises
    ------
    NoBatchNormScales
        A layer of ``layer_names`` has no affine BatchNorm on its output channels (or is not a
        convolution or Linear layer); the message names them.
    """
    graph = trace_dependencies(model, example_input)
    modules = dict(model.named_modules())
    names = {module: name for name, module in modules.items()}
    found: dict[str, set] = {}
    missing = []
    for layer in dict.fromkeys(layer_names):
        module = modules.get(layer)
        pruner = graph.get_pruner_of_module(module) if isinstance(module, ROOT_TYPES) else None
        if pruner is None:
            missing.append(layer)
            continue
        width = pruner.get_out_channels(module)
        group = graph.get_pruning_group(module, pruner.prune_out_channels, list(range(width)))
        norms = [(item.dep.target.module, item.idxs) for item in group if _is_scaled_batchnorm(item.dep.target.module)]
        if not norms:
            missing.append(layer)
        for norm, idxs in norms:
            found.setdefault(names[norm], set()).update(int(i) for i in idxs)
    if missing or not found:
        raise NoBatchNormScales(
            f"network slimming (kind 'bn_slimming') penalises the BatchNorm scales of the entities' channels, and the "
            f"channels of {missing[:6] or list(layer_names)[:6]} have no affine BatchNorm; use a model with BatchNorm "
            "after these layers, leave them out (regularizer.ignored_layers), or another kind")
    return [BatchNormChannels(name, modules[name], torch.tensor(sorted(channels), dtype=torch.long))
            for name, channels in found.items()]


class BatchNormSlimming:
    """Network slimming's penalty as a gradient hook: call ``after_backward()`` between
    ``loss.backward()`` and ``optimizer.step()``.

    The same interface as the other gradient-hook kind (``GroupNormRegularizer``, spr_or/tp_group_norm.py:
    the trained ``model``, one batch ``example_input`` for Torch-Pruning's dependency graph), with
    ``layer_names`` the layers writing the entities' channels (``LayerEntities.writer_modules``) and
    ``lam`` the weight of lam * sum_c |gamma_c| (Liu et al.'s lambda, there 1e-5 to 1e-4 for 160 CIFAR
    epochs).
    """

    def __init__(self, model: nn.Module, example_input: torch.Tensor, layer_names, lam: float):
        self.lam = float(lam)
        self.norms = entity_batchnorms(model, example_input, layer_names)

    def penalty(self) -> torch.Tensor:
        """lam * sum_c |gamma_c| over the entities' BatchNorm channels (differentiable)."""
        return self.lam * sum(norm.gamma.abs().sum() for norm in self.norms)

    @torch.no_grad()
    def after_backward(self) -> None:
        """Add lam * sign(gamma_c), the subgradient of the penalty, to the gradient of every scale."""
        if self.lam == 0:
            return
        for norm in self.norms:
            weight = norm.module.weight
            channels = norm.channels.to(weight.device)
            step = self.lam * torch.sign(weight[channels])
            if weight.grad is None:
                weight.grad = torch.zeros_like(weight)
            weight.grad.index_add_(0, channels, step.to(weight.grad.dtype))


@torch.no_grad()
def bn_scale_scores(layers: list[LayerEntities], model: nn.Module) -> dict[str, torch.Tensor]:
    """{layer: per-entity score}: the mean |gamma| over the BatchNorm scales each entity holds
    (``prune.score: bn_scale``), for ``masks.target_masks``.

    Raises
    ------
    NoBatchNormScales
        An entity holds no affine BatchNorm scale (the message names its layers).
    """
    scales = {id(m.weight) for m in model.modules() if _is_scaled_batchnorm(m)}
    out, missing = {}, []
    for layer in layers:
        members = [m for m in layer.members if id(m.param) in scales]
        if not members:
            missing.append(layer.name)
            continue
        total = sum(m.values().detach().float().abs().sum(1) for m in members)
        count = sum((m.index >= 0).sum(1).to(total.device) for m in members)
        if bool((count == 0).any()):
            missing.append(layer.name)
            continue
        out[layer.name] = (total / count).cpu()
    if missing:
        raise NoBatchNormScales(
            f"prune.score {BN_SCALE_SCORE!r} ranks entities by the |gamma| of their BatchNorm channel, and entities of "
            f"{missing[:6]} hold no affine BatchNorm scale; use prune.score l2 or l1 for this model")
    return out
