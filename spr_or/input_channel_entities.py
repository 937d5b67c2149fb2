"""Which entity of a partition each input channel of a convolution belongs to: what "the input
channels of layer l that the SPR kept" means for a pruned run.

An input channel c of a convolution is removed when the entity that makes it zero is pruned:

- ``conv_inputs`` entities: entity c of the layer itself (the SPR prunes its input slices directly);
- entities of output channels (``filters``, ``groups``): Torch-Pruning's dependency graph, traced
  once, lists for every root layer's output channels the consumers' input channels tied to them
  (``root_idxs``); the entity holding (root, channel) is the one of the input channel. With
  ``groups`` an entity spans every writer of the channel (a residual stream's channel is one entity).

The map is clear only where every input channel of the layer belongs to exactly one entity and the
entities are one layer's, one each. It is reported as unclear (``InputChannels.reason``), not
guessed, where an input channel belongs to no entity (the network's input, a group left out), to
several (a residual stream with ``filters`` entities: each writer's filter is its own entity), where
two input channels belong to the same entity (``groups`` entities behind a grouped convolution: an
entity is one position in every convolution group, so the SPR keeps or prunes those channels
together, and a selection that splits them is not one it could make), or
where the channels are also read by other layers (a residual stream, a channel read by two
convolutions): the SPR then chose them for all those readers together, and one layer's
reconstruction is not the decision it made.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import nn

from .dependency_groups import CONV, ROOT_TYPES, trace_dependencies
from .layer_entities import LayerEntities


@dataclass
class InputChannels:
    """The entities of one convolution's input channels.

    Attributes
    ----------
    layer : str
        The convolution.
    entity_layer : str or None
        The LayerEntities (its ``name``: the key of the run's masks) of the input channels.
    entities : list of int or None
        The entity of each input channel (index into that LayerEntities), one each.
    reason : str or None
        Why the map is unclear (``entity_layer`` and ``entities`` are then None).
    """

    layer: str
    entity_layer: str | None = None
    entities: list | None = None
    reason: str | None = None

    def kept(self, masks: dict) -> list[int]:
        """The input channels whose entity ``masks`` (True = pruned) keeps."""
        pruned = masks[self.entity_layer]
        return [c for c, e in enumerate(self.entities) if not bool(pruned[e])]


def _output_channel_nodes(layer: LayerEntities) -> list | None:
    """Per entity the (root layer, output channel) pairs it zeroes; None for entities of another kind."""
    if layer.removal is not None:
        return layer.removal
    if layer.kind == "filters":
        return [[(layer.name, i)] for i in range(layer.n_entities)]
    return None


def input_channel_entities(model: nn.Module, example_input: torch.Tensor,
                           layers: list[LayerEntities]) -> dict[str, InputChannels]:
    """{convolution: InputChannels} for every convolution of ``model`` (module docstring).

    Parameters
    ----------
    model : nn.Module
    example_input : torch.Tensor
        One batch of inputs (the dependency graph is traced on it).
    layers : list of LayerEntities
        The run's partition (the one its masks index).

    Returns
    -------
    dict
        One InputChannels per Conv1d / Conv2d / Conv3d module, in model order.
    """
    modules = dict(model.named_modules())
    names = {module: name for name, module in modules.items()}
    convs = [name for name, module in modules.items() if isinstance(module, CONV)]
    out = {name: InputChannels(name) for name in convs}
    direct = {layer.name: layer for layer in layers if layer.kind == "conv_inputs"}
    for name in convs:
        if name in direct:
            out[name].entity_layer, out[name].entities = name, list(range(direct[name].n_entities))
    entity_of: dict = {}  # (root, output channel) -> (entity layer, entity)
    for layer in layers:
        for i, nodes in enumerate(_output_channel_nodes(layer) or []):
            for node in nodes:
                entity_of[node] = (layer.name, i)
    sources: dict = defaultdict(lambda: defaultdict(set))  # conv -> input channel -> {(entity layer, entity)}
    readers: dict = defaultdict(set)  # entity layer -> layers reading its channels
    if entity_of:
        graph = trace_dependencies(model, example_input)
        for root in sorted({root for root, _ in entity_of}):
            module = modules[root]
            pruner = graph.get_pruner_of_module(module)
            group = graph.get_pruning_group(module, pruner.prune_out_channels,
                                            list(range(pruner.get_out_channels(module))))
            for item in group:
                target = item.dep.target.module
                if not isinstance(target, ROOT_TYPES) or graph.is_out_channel_pruning_fn(item.dep.handler):
                    continue
                for idx, root_idx in zip(item.idxs, item.root_idxs):
                    entity = entity_of.get((root, int(root_idx)))
                    if entity is not None:
                        readers[entity[0]].add(names[target])
                        if isinstance(target, CONV):
                            sources[names[target]][int(idx)].add(entity)
    for name in convs:
        if name in direct:
            continue
        out[name].reason = _unclear(modules[name], sources.get(name, {}), readers)
        if out[name].reason is None:
            found = [next(iter(sources[name][c])) for c in range(modules[name].in_channels)]
            out[name].entity_layer, out[name].entities = found[0][0], [e for _, e in found]
    return out


def _unclear(conv: nn.Module, sources: dict, readers: dict) -> str | None:
    """Why the input channels of ``conv`` (``sources``: channel -> entities) map to no single entity
    each of one layer read only by ``conv``; None if they do."""
    missing = [c for c in range(conv.in_channels) if not sources.get(c)]
    if len(missing) == conv.in_channels:
        return "no entity of the run zeroes its input channels (the network's input, or a group left out)"
    if missing:
        return f"input channels {missing[:6]} belong to no entity of the run"
    shared = [c for c in range(conv.in_channels) if len(sources[c]) > 1]
    if shared:
        return (f"input channel {shared[0]} belongs to {len(sources[shared[0]])} entities (several writers, "
                "each pruned on its own): kept unless all are pruned")
    entity_layers = {entity_layer for c in range(conv.in_channels) for entity_layer, _ in sources[c]}
    if len(entity_layers) > 1:
        return f"its input channels belong to entities of {len(entity_layers)} layers ({sorted(entity_layers)[:3]})"
    entity_layer = entity_layers.pop()
    first_channel: dict = {}  # entity -> the first input channel in it
    for c in range(conv.in_channels):
        (_, entity), = sources[c]
        if entity in first_channel:
            return (f"its input channels {first_channel[entity]} and {c} belong to one entity of {entity_layer!r} "
                    "(pruned together, e.g. behind a grouped convolution): the SPR cannot choose them one by one")
        first_channel[entity] = c
    if len(readers[entity_layer]) > 1:
        others = sorted(readers[entity_layer])
        return (f"its input channels are those of {entity_layer!r}, read by {len(others)} layers "
                f"({', '.join(others[:4])}{', ...' if len(others) > 4 else ''}): the SPR chose them for all of them "
                "together")
    return None
