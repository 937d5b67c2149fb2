"""Physical removal of the pruned entities of dependency groups (``entities="groups"``,
spr_or.dependency_groups), exact or refused.

Each pruned entity lists the (root layer, root channel) pairs it spans; every root's channels are
removed with one Torch-Pruning group (the root's output channels and everything coupled to them:
the other writers of a residual stream, norms, the consumers' input channels, concatenation slices,
option-A paddings); attention heads are removed by replacing their nn.MultiheadAttention
(attention_heads.py). Since an entity holds every writer's slice and the norms' scale and shift, a
pruned channel is exactly 0 where it is consumed, and the compact model computes what the masked
model computes. ``compact_groups`` checks that on the example batch and refuses (``CompactionNotExact``,
naming the group) rather than return a model that differs; the only pruned entities kept are those
that would take a layer's last channel (``CompactionReport.kept`` says which).
"""

from __future__ import annotations

import copy
from collections import defaultdict

import torch
from torch import nn

from spr_core.errors import UserError

from ..dependency_groups import ROOT_TYPES, trace_dependencies
from ..layer_entities import LayerEntities
from .attention_heads import remove_heads_
from .compaction import CompactionReport, _out_channel_fn

#: the compact model may differ from the masked one by this fraction of the output scale
RELATIVE_TOLERANCE = 1e-4


class CompactionNotExact(UserError):
    """Removing a group's pruned channels would change the model's outputs."""


def group_removal_plan(layers: list[LayerEntities], masks: dict[str, torch.Tensor]):
    """({root layer: channels to remove}, CompactionReport): every pruned entity's channels, except
    that a root keeps its last channel (the entity holding it stays, at zero)."""
    report = CompactionReport()
    plan: dict[str, set] = defaultdict(set)
    width: dict[str, int] = defaultdict(int)
    for layer in layers:
        for nodes in layer.removal:
            for root, _ in nodes:
                width[root] += 1
    for layer in layers:
        pruned = masks[layer.name].nonzero().flatten().tolist()
        removed = []
        for i in pruned:
            nodes = layer.removal[i]
            if any(len(plan[root]) + sum(1 for r, _ in nodes if r == root) >= width[root] for root, _ in nodes):
                report.kept[layer.name] = "every channel of a layer is pruned; one is kept so the layer still exists"
                continue
            for root, channel in nodes:
                plan[root].add(channel)
            removed.append(i)
        if removed:
            report.removed[layer.name] = removed
    return {root: sorted(channels) for root, channels in plan.items() if channels}, report


def _output_scale(output: torch.Tensor) -> float:
    return max(float(output.abs().max()), 1e-12)


def _prune_roots(model: nn.Module, example_input: torch.Tensor, plan: dict) -> nn.Module:
    """Remove ``plan``'s channels from ``model`` in place, one Torch-Pruning group per root, then
    the attention heads (a MultiheadAttention in the plan: its heads to remove)."""
    graph = trace_dependencies(model, example_input)
    modules = dict(model.named_modules())
    heads = {root: channels for root, channels in plan.items() if isinstance(modules[root], nn.MultiheadAttention)}
    for root, channels in plan.items():
        module = modules[root]
        if root in heads:
            continue
        if not isinstance(module, ROOT_TYPES):
            raise CompactionNotExact(f"compaction: {root} is not a convolution, Linear or attention layer")
        group = graph.get_pruning_group(module, _out_channel_fn(module), idxs=channels)
        group.prune()
    for root, removed in heads.items():
        remove_heads_(model, root, removed)
    return model


def compact_groups(model: nn.Module, layers: list[LayerEntities], masks: dict[str, torch.Tensor],
                   example_input: torch.Tensor) -> tuple[nn.Module, CompactionReport]:
    """A physically smaller copy of the masked ``model`` with every pruned entity removed.

    Parameters
    ----------
    model : nn.Module
        The masked model (pruned entities at zero); not changed.
    layers : list of LayerEntities
        Its ``"groups"`` partition.
    masks : dict
        {layer name: bool per entity}, True = pruned.
    example_input : torch.Tensor
        A batch of inputs: the graph is traced on it and the outputs compared on it.

    Returns
    -------
    (nn.Module, CompactionReport)
        The compact model (CPU, float32, eval) and what was removed / kept.

    Raises
    ------
    CompactionNotExact
        The compact model's outputs differ from the masked model's by more than RELATIVE_TOLERANCE
        of the output scale; the message names the first group whose removal changes them.
    """
    masked = copy.deepcopy(model).cpu().float().eval()
    example_input = example_input.cpu().float()
    plan, report = group_removal_plan(layers, masks)
    with torch.no_grad():
        expected = masked(example_input)

    def removal(part: dict):
        """(compact model, None) if removing ``part`` keeps the outputs, else (None, why)."""
        try:
            compact = _prune_roots(copy.deepcopy(masked), example_input, part)
            with torch.no_grad():
                got = compact(example_input)
        except Exception as error:  # noqa: BLE001 - a failed removal is a refusal, named below
            return None, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        if got.shape != expected.shape:
            return None, f"the output shape changes from {tuple(expected.shape)} to {tuple(got.shape)}"
        difference = float((got - expected).abs().max())
        if difference > RELATIVE_TOLERANCE * _output_scale(expected):
            return None, f"the outputs change by {difference:.3g} (output scale {_output_scale(expected):.3g})"
        return compact, None

    compact, _ = removal(plan)
    if compact is not None:
        return compact, report
    # find the first root whose removal alone breaks the outputs, to name it
    for root, channels in plan.items():
        _, why = removal({root: channels})
        if why is not None:
            owner = next(layer for layer in layers if any(r == root for nodes in layer.removal for r, _ in nodes))
            raise CompactionNotExact(
                f"compaction refused: removing the pruned channels of {root} (group {owner.name!r}, "
                f"{owner.group_type}) changes the model's outputs ({why}); add {root!r} to ignored_layers")
    raise CompactionNotExact("compaction refused: the compact model's outputs differ from the masked model's "
                             "(no single group is to blame); no compact model was written")
