"""Physical removal of pruned filters with Torch-Pruning's dependency graph, and the checks that the
compact model computes what the masked model computes.

A filter (output channel) can be removed only together with everything coupled to it: its
BatchNorm channel, the next layers' input channels, and, across residual additions, the same
channel of every other layer that writes into the same sum. Torch-Pruning's DependencyGraph finds
these *groups*; here a channel of a group is removed only when it is pruned (masked to zero) in
**every** layer that produces it, so the compact model's outputs equal the masked model's.

Not removed, by design (and reported in ``CompactionReport.kept``):
- groups that cross a channel zero-padding (the parameter-free option-A shortcut of the CIFAR
  ResNets, ``F.pad`` on the channel axis): Torch-Pruning treats the pad as element-wise and would
  couple channel c of one stage with channel c of the next, which is wrong (channel c of a stage
  feeds channel c + pad of the next). In option-A ResNets this leaves the residual stream (the
  stem, every block's second convolution) at full width; each block's first convolution, its
  BatchNorm and the second convolution's input channels are removed;
- channels pruned in some but not all layers of a residual group (the others still write there);
- the last channel of a group, if all are pruned (a layer keeps at least one channel);
- groups whose coupling remaps indices (concatenation, split), which the masks here do not track.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch_pruning as tp
from torch import nn

from spr_core.errors import MissingInput, UserError

from ..atomic_files import atomic_path
from .checkpoint import sha256_of

PRUNABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
PADDING_OP = "ConstantPadNd"


@dataclass
class CompactionReport:
    """What compaction did: ``removed`` maps each producer layer to the output channels physically
    removed from it; ``kept`` maps a coupled group (its producer layers joined by "+") to why some of
    its pruned channels stay (the reasons of the module docstring)."""

    removed: dict[str, list[int]] = field(default_factory=dict)   # producer layer -> removed channels
    kept: dict[str, str] = field(default_factory=dict)            # producer layer -> why pruned channels stay


def _out_channel_fn(module):
    return tp.prune_linear_out_channels if isinstance(module, nn.Linear) else tp.prune_conv_out_channels


def _width(module) -> int:
    return module.out_features if isinstance(module, nn.Linear) else module.out_channels


def coupled_groups(model: nn.Module, example_input: torch.Tensor, layer_names) -> list[dict]:
    """For each named layer, the group of its output channels: {"producers": [layer names writing
    the same channels], "pads": whether it crosses a channel padding, "identity": whether every
    producer's channel i is the root's channel i}. Groups are deduplicated by their producers."""
    model = model.eval()
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=example_input, verbose=False)
    modules = dict(model.named_modules())
    name_of = {m: n for n, m in modules.items()}
    groups, seen = [], set()
    for name in layer_names:
        module = modules[name]
        everything = list(range(_width(module)))
        group = graph.get_pruning_group(module, _out_channel_fn(module), idxs=everything)
        producers, identity, pads = {}, True, False
        for dep, idxs in group:
            target = dep.target.module
            if PADDING_OP in repr(dep.target):
                pads = True
            if graph.is_out_channel_pruning_fn(dep.handler) and isinstance(target, PRUNABLE):
                channels = sorted(int(i) for i in idxs)
                producers[name_of[target]] = channels
                identity &= channels == everything
        key = frozenset(producers)
        if key not in seen:
            seen.add(key)
            groups.append({"root": name, "producers": sorted(producers), "pads": pads, "identity": identity})
    return groups


def removal_plan(model: nn.Module, masks: dict[str, torch.Tensor], example_input: torch.Tensor):
    """{root layer: channels to remove} and the report of what stays and why (module docstring)."""
    report, plan = CompactionReport(), {}
    for group in coupled_groups(model, example_input, list(masks)):
        producers = group["producers"]
        pruned = [masks[p].nonzero().flatten().tolist() if p in masks else [] for p in producers]
        candidates = set(pruned[0]).intersection(*pruned[1:]) if pruned else set()
        if not any(pruned):
            continue
        label = "+".join(producers)
        if group["pads"]:
            report.kept[label] = "the channels cross a channel zero-padding (option-A shortcut)"
            continue
        if not group["identity"]:
            report.kept[label] = "the group remaps channel indices (concatenation or split)"
            continue
        if len(candidates) < max(len(p) for p in pruned):
            report.kept[label] = "some pruned channels are still produced by another layer of the residual group"
        removable = sorted(candidates)
        width = len(masks[group["root"]])
        if removable and len(removable) == width:
            removable = removable[:-1]
            report.kept.setdefault(label, "every channel is pruned; one is kept so the layer still exists")
        if removable:
            plan[group["root"]] = removable
            for p in producers:
                report.removed[p] = removable
    return plan, report


def compact_model(model: nn.Module, masks: dict[str, torch.Tensor], example_input: torch.Tensor):
    """A physically smaller copy of ``model`` (masked: pruned entities already zero) and its report.
    (Torch-Pruning traces the model with autograd, so this must not run under no_grad.)"""
    compact = copy.deepcopy(model).cpu().float().eval()
    example_input = example_input.cpu().float()
    plan, report = removal_plan(compact, masks, example_input)
    graph = tp.DependencyGraph().build_dependency(compact, example_inputs=example_input, verbose=False)
    modules = dict(compact.named_modules())
    for root, channels in plan.items():
        module = modules[root]
        group = graph.get_pruning_group(module, _out_channel_fn(module), idxs=channels)
        if not graph.check_pruning_group(group):
            raise RuntimeError(f"Torch-Pruning refused to remove channels {channels[:8]} of {root}")
        group.prune()
    return compact, report


@torch.no_grad()
def max_output_difference(reference: nn.Module, compact: nn.Module, batches) -> float:
    """max |reference(x) - compact(x)| over the batches (both in eval mode, float32, CPU)."""
    reference, compact = reference.eval(), compact.eval()
    worst = 0.0
    for x in batches:
        x = x.cpu().float()
        a, b = reference(x), compact(x)
        if a.shape != b.shape:
            raise RuntimeError(f"compaction changed the output shape: {tuple(a.shape)} -> {tuple(b.shape)}")
        worst = max(worst, float((a - b).abs().max()))
    return worst


def export_model(model: nn.Module, example_input: torch.Tensor, path) -> str:
    """Save ``model`` as a torch.export program with a dynamic batch size: it loads with
    ``torch.export.load(path).module()`` without the model's Python class."""
    model = model.cpu().float().eval()
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    example = torch.cat([example_input.cpu().float()[:1]] * 2)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    with atomic_path(path, suffix=Path(path).suffix) as tmp:  # never a half-written model
        torch.export.save(program, tmp)
    return str(path)


class CompactModelDamaged(UserError):
    """An exported compact model whose SHA-256 differs from the one its run recorded."""


def load_compact_model(path, *, sha256: str | None = None) -> nn.Module:
    """The exported compact model as a module, its SHA-256 checked first.

    Parameters
    ----------
    path : str or Path
        A ``compact_model.pt2``, or the run folder holding it (and the results.json that recorded
        its checksum).
    sha256 : str, optional
        The expected SHA-256; by default the ``compact_model_sha256`` of the run's results.json.

    Returns
    -------
    nn.Module
        ``torch.export.load(path).module()``.

    Raises
    ------
    CompactModelDamaged
        The file's SHA-256 differs from the recorded one.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "compact_model.pt2"
    if sha256 is None:
        results = path.parent / "results.json"
        if not results.exists():
            raise MissingInput(f"{results}: no results.json next to {path.name} records its checksum; pass sha256=")
        sha256 = json.loads(results.read_text()).get("compact_model_sha256")
        if sha256 is None:
            raise MissingInput(f"{results} records no compact_model_sha256 (a run with report.export: false, or "
                               "from before checksums); pass sha256=")
    if not path.exists():
        raise MissingInput(f"{path}: no such exported model")
    actual = sha256_of(path)
    if actual != sha256:
        raise CompactModelDamaged(f"{path}: SHA-256 {actual[:16]}... differs from the recorded {sha256[:16]}... "
                                  "(the file is damaged or was replaced)")
    return torch.export.load(str(path)).module()
