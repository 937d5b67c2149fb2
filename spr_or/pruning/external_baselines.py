"""Torch-Pruning's GroupNormPruner (DepGraph, Fang et al., CVPR 2023) as an external baseline in the
pipeline: its sparse-training regularizer is the kind ``tp_group_norm`` (spr_or/tp_group_norm.py);
here is its ranking for ``prune.score: tp_group``: its group importance (GroupMagnitudeImportance,
p = 2, normalised per group), the norm of a channel over every layer of its group (filter, BatchNorm, next layer's
input slice). The masks and the compaction are this toolkit's, as for every other method, so the
comparison differs only in the regularizer and the ranking.
"""

from __future__ import annotations

import torch
from torch import nn

from ..tp_group_norm import ROOT_TYPES, group_norm_pruner


def group_importance(model: nn.Module, example_input: torch.Tensor, layer_names, roots=None) -> dict[str, torch.Tensor]:
    """{layer: per-filter importance} from Torch-Pruning's group importance of each layer's group;
    ``layer_names`` are the layers that may be pruned, ``roots`` (default: all of them) those that
    must root a group."""
    model = model.eval()
    pruner = group_norm_pruner(model, example_input, layer_names, reg=0.0)
    name_of = {m: n for n, m in model.named_modules()}
    scores = {}
    for group in pruner.DG.get_all_groups(ignored_layers=pruner.ignored_layers, root_module_types=ROOT_TYPES):
        root = group[0].dep.target.module
        name = name_of.get(root)
        if name in layer_names:
            scores[name] = pruner.estimate_importance(group).detach().float().cpu()
    missing = sorted(set(layer_names if roots is None else roots) - set(scores))
    if missing:
        raise RuntimeError(f"Torch-Pruning found no group rooted at {missing[:4]}")
    return scores


def entity_importance(layers, by_root: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """{layer: per-entity importance} for dependency-group entities: the mean of Torch-Pruning's
    importance over the (root, channel) pairs of each entity; layers with a root Torch-Pruning does
    not score (attention heads) are left out."""
    return {layer.name: torch.tensor([sum(float(by_root[root][c]) for root, c in nodes) / len(nodes)
                                      for nodes in layer.removal])
            for layer in layers if all(root in by_root for nodes in layer.removal for root, _ in nodes)}
