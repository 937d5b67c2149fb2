"""Torch-Pruning's GroupNormPruner (DepGraph, Fang et al., CVPR 2023) as a regularizer kind
(``tp_group_norm``, regularizer_kinds.py): after every backward pass ``pruner.regularize`` adds
reg * gamma_g * w to the gradients of every coupled group g (gamma grows as the group's norm falls).
The same pruner's group importance ranks filters for ``prune.score: tp_group``
(spr_or.pruning.external_baselines).
"""

from __future__ import annotations

import torch
import torch_pruning as tp
from torch import nn

from .dependency_groups import customized_pruners

ROOT_TYPES = [nn.Conv1d, nn.Conv2d, nn.Conv3d]


def group_norm_pruner(model: nn.Module, example_input: torch.Tensor, layer_names, reg: float):
    """Torch-Pruning's GroupNormPruner over the convolutions ``layer_names`` (every other
    convolution and Linear layer ignored), with p = 2 group magnitude importance; option-A channel
    paddings get their pruner (spr_or.dependency_groups), so the streams of the stages are groups."""
    modules = dict(model.named_modules())
    keep = set(layer_names)
    ignored = [m for name, m in modules.items() if isinstance(m, (*ROOT_TYPES, nn.Linear)) and name not in keep]
    return tp.pruner.GroupNormPruner(model, example_input, importance=tp.importance.GroupMagnitudeImportance(p=2),
                                     reg=reg, global_pruning=True, ignored_layers=ignored,
                                     root_module_types=ROOT_TYPES, customized_pruners=customized_pruners(model))


class GroupNormRegularizer:
    """Call ``after_backward()`` between ``loss.backward()`` and ``optimizer.step()``.

    Parameters
    ----------
    model : nn.Module
        The network trained.
    example_input : torch.Tensor
        One batch of inputs, for Torch-Pruning's dependency graph.
    layer_names : list of str
        The convolutions whose groups are regularized.
    lam : float
        Torch-Pruning's ``reg``, the strength of the group shrinkage.
    """

    def __init__(self, model: nn.Module, example_input: torch.Tensor, layer_names, lam: float):
        self.model = model
        self.pruner = group_norm_pruner(model, example_input, layer_names, lam)
        self.pruner.update_regularizer()

    def after_backward(self) -> None:
        """Shrink the gradients of every coupled group (``pruner.regularize``)."""
        self.pruner.regularize(self.model)
