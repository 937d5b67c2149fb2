"""Phase 2 of the pipeline: which entities are pruned, and keeping them at zero.

The paper's rule (MATH.md, "Pruning protocol"): a weight with |w| < tol counts as zero, and an
entity with more than ``zero_fraction`` (99%) of its weights zero is pruned; the proximal SPR step
gives exact zeros instead, and ``exact_zeros`` prunes exactly the entities it zeroed. Only the main
weight (the filter) is inspected; a pruned entity is then zeroed whole: filter, bias and its
BatchNorm scale and shift, so its channel outputs exactly 0 and can be removed (compaction.py).
"""

from __future__ import annotations

import torch

from ..entities import LayerEntities


#: the pruning rules (prune.rule): the paper's threshold, the prox's exact zeros, a matched target
PRUNE_RULES = ("threshold", "exact_zeros", "target")
#: the scores that rank filters for the target rule: magnitude_scores' l2 / l1, and Torch-Pruning's
#: group importance (external_baselines.group_importance)
PRUNE_SCORES = ("l2", "l1", "tp_group")


def _main_weight(layer: LayerEntities) -> torch.Tensor:
    """The boxed weights of every entity (the filter; for dependency groups every writer's slice)."""
    return layer.boxed_matrix().detach()


@torch.no_grad()
def threshold_masks(layers: list[LayerEntities], tol: float, zero_fraction: float) -> dict[str, torch.Tensor]:
    """{layer: bool per entity}: more than ``zero_fraction`` of the filter's weights have |w| < tol
    (padding, where entities differ in size, not counted)."""
    out = {}
    for layer in layers:
        small = (_main_weight(layer).abs() < tol).float().sum(1) - layer.boxed_padding()
        out[layer.name] = (small / layer.boxed_sizes.to(small.device) > zero_fraction).cpu()
    return out


@torch.no_grad()
def exact_zero_masks(layers: list[LayerEntities]) -> dict[str, torch.Tensor]:
    """{layer: bool per entity}: every weight of the filter is exactly 0."""
    return {layer.name: (_main_weight(layer) == 0).all(1).cpu() for layer in layers}


@torch.no_grad()
def apply_masks_(layers: list[LayerEntities], masks: dict[str, torch.Tensor]) -> None:
    """Zero every member (filter, bias, BatchNorm scale/shift) of the pruned entities, in place."""
    for layer in layers:
        pruned = masks[layer.name].to(layer.members[0].param.device)
        if not bool(pruned.any()):
            continue
        for member in layer.members:
            if member.layout == "rows":
                member.param[pruned] = 0  # entity i = param[i], any memory format
            else:
                V = layer.matrix().detach().clone()
                V[pruned] = 0
                layer.write_matrix(V)
                break


def mask_keeper(layers: list[LayerEntities], masks: dict[str, torch.Tensor]):
    """A function that holds the pruned entities at zero after every fine-tuning step: the masks are
    moved to the device once, and row entities are zeroed by a multiplication (no boolean indexing,
    which would wait for the GPU at every step); other layouts use apply_masks_."""
    scaled, other = [], []
    for layer in layers:
        pruned = masks[layer.name]
        if not bool(pruned.any()):
            continue
        for member in layer.members:
            if member.layout == "rows":
                shape = (-1,) + (1,) * (member.param.dim() - 1)
                keep = (~pruned).to(member.param.device, member.param.dtype).view(shape)
                scaled.append((member.param, keep))
            else:
                other.append(layer)
                break

    @torch.no_grad()
    def keep_zero() -> None:
        for param, keep in scaled:
            param.mul_(keep)
        if other:
            apply_masks_(other, masks)

    return keep_zero


def paper_pruned_parameters(layers: list[LayerEntities], masks: dict[str, torch.Tensor]) -> int:
    """The paper's count: the pruned filters' own weights (not BatchNorm, not the next layer's inputs)."""
    return sum(int(layer.boxed_sizes[masks[layer.name].to(layer.boxed_sizes.device)].sum()) for layer in layers)


def per_layer_profile(layers: list[LayerEntities], masks: dict[str, torch.Tensor]) -> list[dict]:
    """One row per layer: {"layer", "entities" (its count), "pruned" (how many ``masks`` prunes),
    "weights_per_entity" (the boxed weights per entity, the largest where they differ)}, and for
    dependency groups "group_type"."""
    return [{"layer": layer.name, "entities": layer.n_entities, "pruned": int(masks[layer.name].sum()),
             "weights_per_entity": int(layer.boxed_sizes.max()),
             **({"group_type": layer.group_type} if layer.group_type else {})} for layer in layers]


@torch.no_grad()
def magnitude_scores(layers: list[LayerEntities], score: str) -> dict[str, torch.Tensor]:
    """Per-filter magnitude, "l2" = ||w||_2 or "l1" = ||w||_1 (Li et al., 2017), divided by the
    layer's mean, so a global ranking compares filters with their own layer (as Torch-Pruning's
    "mean" normaliser does); filters at zero score 0 in any layer."""
    out = {}
    for layer in layers:
        W = _main_weight(layer).float()
        magnitude = W.norm(dim=1) if score == "l2" else W.abs().sum(1)
        if layer.kind == "groups":  # entities differ in size: RMS / mean |w| over the entity's weights
            sizes = layer.boxed_sizes.to(W.device).float()
            magnitude = magnitude / (sizes.sqrt() if score == "l2" else sizes)
        out[layer.name] = (magnitude / magnitude.mean().clamp_min(1e-30)).cpu()
    return out


def target_masks(layers: list[LayerEntities], scores: dict[str, torch.Tensor], target: float) -> dict[str, torch.Tensor]:
    """Matched sparsity: prune the filters of lowest score, over all layers, until their weights are
    ``target`` of all the layers' filter weights; every layer keeps at least its best filter."""
    entries = [(float(scores[layer.name][i]), layer.name, i, int(size))
               for layer in layers for i, size in enumerate(layer.boxed_sizes.tolist())]
    total = sum(int(layer.boxed_sizes.sum()) for layer in layers)
    masks = {layer.name: torch.zeros(layer.n_entities, dtype=torch.bool) for layer in layers}
    left = {layer.name: layer.n_entities for layer in layers}
    pruned = 0
    for _, name, i, width in sorted(entries):
        if pruned >= target * total:
            break
        if left[name] > 1:
            masks[name][i] = True
            left[name] -= 1
            pruned += width
    return masks
