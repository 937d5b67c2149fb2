"""Torch-Pruning's GroupNormPruner (DepGraph, Fang et al., CVPR 2023) as an external baseline in the
pipeline (``regularizer.kind: tp_group_norm``, ``prune.score: tp_group``).

Phase 1 uses its sparse-training regularizer: after every backward pass ``pruner.regularize``
adds reg * gamma_g * w to the gradients of every coupled group g (gamma grows as the group's norm
falls). The pruning ranking uses its group importance (GroupMagnitudeImportance, p = 2, normalised
per group): the norm of a channel over every layer of its group (filter, BatchNorm, next layer's
input slice). The masks and the compaction are this toolkit's, as for every other method, so the
comparison differs only in the regularizer and the ranking.
"""

from __future__ import annotations

import torch
import torch_pruning as tp
from torch import nn

ROOT_TYPES = [nn.Conv1d, nn.Conv2d, nn.Conv3d]


def _group_norm_pruner(model: nn.Module, example_input: torch.Tensor, layer_names, reg: float):
    modules = dict(model.named_modules())
    keep = set(layer_names)
    ignored = [m for name, m in modules.items() if isinstance(m, (*ROOT_TYPES, nn.Linear)) and name not in keep]
    return tp.pruner.GroupNormPruner(model, example_input, importance=tp.importance.GroupMagnitudeImportance(p=2),
                                     reg=reg, global_pruning=True, ignored_layers=ignored,
                                     root_module_types=ROOT_TYPES)


class GroupNormRegularizer:
    """Call ``after_backward()`` between ``loss.backward()`` and ``optimizer.step()``."""

    def __init__(self, model: nn.Module, example_input: torch.Tensor, layer_names, reg: float):
        self.model = model
        self.pruner = _group_norm_pruner(model, example_input, layer_names, reg)
        self.pruner.update_regularizer()

    def after_backward(self) -> None:
        self.pruner.regularize(self.model)


def group_importance(model: nn.Module, example_input: torch.Tensor, layer_names) -> dict[str, torch.Tensor]:
    """{layer: per-filter importance} from Torch-Pruning's group importance of each layer's group."""
    model = model.eval()
    pruner = _group_norm_pruner(model, example_input, layer_names, reg=0.0)
    name_of = {m: n for n, m in model.named_modules()}
    scores = {}
    for group in pruner.DG.get_all_groups(ignored_layers=pruner.ignored_layers, root_module_types=ROOT_TYPES):
        root = group[0].dep.target.module
        name = name_of.get(root)
        if name in layer_names:
            scores[name] = pruner.estimate_importance(group).detach().float().cpu()
    missing = sorted(set(layer_names) - set(scores))
    if missing:
        raise RuntimeError(f"Torch-Pruning found no group rooted at {missing[:4]}")
    return scores
