"""Prunable entities as data: a partition of a model's parameters into disjoint index sets.

A ``LayerEntities`` holds, for one layer, ``n_entities`` entities; each *member* parameter
contributes an index matrix (n_entities, k_p) into its flattened elements (-1 = padding), so an
entity may span several tensors (a filter with its bias and BatchNorm scale/shift) and entities of a
user partition may differ in size. ``matrix()`` gathers the current values into one
(n_entities, k) matrix (zeros in the padding), the input of every regularizer; a regularizer never
knows which layer type a partition came from (DESIGN.md: "Entities are data, not code paths").

Builders (``build_partition(model, entities=...)``):
    "filters"          Conv2d output channels, weight[o]                 (the paper's entities)
    "conv_inputs"      Conv2d input channels, weight[:, i]
    "neurons"          Linear rows, weight[o]
    "linear_inputs"    Linear columns, weight[:, i]
    "heads"            MultiheadAttention heads: q/k/v rows and out_proj columns of one head
    "groups"           one entity per removable channel of every dependency group: the slices of
                       every layer writing the channel and its norms' parameters (dependency_groups.py;
                       needs ``example_input``); what compaction removes, exactly
    a dict {param_name: LongTensor of entity ids, same shape}: an arbitrary user partition
``tie_bias`` / ``tie_batchnorm`` add a filter's (neuron's) bias and the BatchNorm that follows it.
"""

from __future__ import annotations

import torch
from torch import nn

from spr_core.errors import InvalidArgument

from .dependency_groups import group_entities
from .layer_entities import LayerEntities, Member
from .output_layers import output_layers

__all__ = ["ENTITY_KINDS", "LayerEntities", "Member", "build_partition", "check_disjoint", "check_ignored_layers",
           "summary",
           "user_partition"]


ENTITY_KINDS = ("filters", "conv_inputs", "neurons", "linear_inputs", "heads", "groups")


def _rows(param: torch.Tensor) -> torch.Tensor:
    """Index matrix of entities = slices along dim 0."""
    return torch.arange(param.numel(), device=param.device).view(param.shape[0], -1)


def _columns(param: torch.Tensor) -> torch.Tensor:
    """Index matrix of entities = slices along dim 1."""
    idx = torch.arange(param.numel(), device=param.device).view(param.shape[0], param.shape[1], -1)
    return idx.transpose(0, 1).reshape(param.shape[1], -1)


def _following_batchnorm(model: nn.Module) -> dict[str, nn.Module]:
    """conv/linear module name -> the BatchNorm registered right after it with matching width."""
    modules = list(model.named_modules())
    out = {}
    for (name, module), (_, nxt) in zip(modules, modules[1:]):
        width = getattr(module, "out_channels", getattr(module, "out_features", None))
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)) \
                and isinstance(nxt, nn.modules.batchnorm._BatchNorm) \
                and nxt.num_features == width:
            out[name] = nxt
    return out


def _module_entities(name, module, kind, tie_bias, batchnorm) -> LayerEntities | None:
    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    prefix = f"{name}." if name else ""
    if kind == "filters" and isinstance(module, conv) or kind == "neurons" and isinstance(module, nn.Linear):
        members = [Member(f"{prefix}weight", module.weight, _rows(module.weight), "rows")]
        if tie_bias and module.bias is not None:
            members.append(Member(f"{prefix}bias", module.bias, _rows(module.bias), "rows"))
        if batchnorm is not None and batchnorm.affine:
            members += [Member(f"{name}->bn.weight", batchnorm.weight, _rows(batchnorm.weight), "rows"),
                        Member(f"{name}->bn.bias", batchnorm.bias, _rows(batchnorm.bias), "rows")]
        return LayerEntities(name or "weight", kind, members, f"{prefix}weight")
    if kind == "conv_inputs" and isinstance(module, conv) and module.groups == 1 \
            or kind == "linear_inputs" and isinstance(module, nn.Linear):
        return LayerEntities(name or "weight", kind,
                             [Member(f"{prefix}weight", module.weight, _columns(module.weight), "columns")],
                             f"{prefix}weight")
    if kind == "heads" and isinstance(module, nn.MultiheadAttention) and module.in_proj_weight is not None:
        E, H = module.embed_dim, module.num_heads
        d = E // H
        rows = torch.arange(3 * E * E).view(3, H, d, E).permute(1, 0, 2, 3).reshape(H, -1)  # q, k, v rows of head h
        cols = torch.arange(E * E).view(E, H, d).permute(1, 0, 2).reshape(H, -1)  # out_proj columns of head h
        members = [Member(f"{prefix}in_proj_weight", module.in_proj_weight, rows),
                   Member(f"{prefix}out_proj.weight", module.out_proj.weight, cols)]
        if tie_bias and module.in_proj_bias is not None:
            members.append(Member(f"{prefix}in_proj_bias", module.in_proj_bias,
                                  torch.arange(3 * E).view(3, H, d).permute(1, 0, 2).reshape(H, -1)))
        return LayerEntities(name or "in_proj_weight", kind, members, f"{prefix}in_proj_weight")
    return None


def user_partition(model: nn.Module, assignment: dict) -> list[LayerEntities]:
    """Entities from {param_name: LongTensor of entity ids (same shape as the parameter)}: one
    LayerEntities per parameter, entity j = the elements labelled j (ids 0..max, each used)."""
    params = dict(model.named_parameters())
    layers = []
    for pname, labels in assignment.items():
        if pname not in params:
            raise InvalidArgument(f"entities: no parameter named {pname!r} (known: {sorted(params)[:8]}...)")
        labels = torch.as_tensor(labels)
        if labels.is_floating_point() or labels.dtype == torch.bool:
            raise InvalidArgument(f"entities[{pname!r}] must hold integer entity ids; got dtype {labels.dtype}")
        param = params[pname]
        if labels.shape != param.shape:
            raise InvalidArgument(f"entities[{pname!r}] must have the parameter's shape {tuple(param.shape)}; "
                             f"got {tuple(labels.shape)}")
        flat = labels.reshape(-1).long()
        if flat.min() < 0:
            raise InvalidArgument(f"entities[{pname!r}] holds negative ids; every element needs an entity id >= 0")
        counts = torch.bincount(flat)
        if (counts == 0).any():
            raise InvalidArgument(f"entities[{pname!r}]: ids {torch.nonzero(counts == 0).flatten().tolist()[:10]} are unused; "
                             "number the entities 0..n-1")
        order = torch.argsort(flat, stable=True)
        width = int(counts.max())
        index = torch.full((counts.numel(), width), -1, dtype=torch.long)
        position = torch.arange(flat.numel()) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        index[flat[order], position] = order
        layers.append(LayerEntities(pname, "user", [Member(pname, param, index)], pname))
    return layers


#: the entity kinds that prune a layer's output channels: never those of the model's output layers
OUTPUT_CHANNEL_KINDS = ("filters", "neurons")


def build_partition(model: nn.Module, entities="filters", *, tie_bias: bool = False,
                    tie_batchnorm: bool = False, layer_names=None, ignored_layers=(),
                    example_input: torch.Tensor | None = None) -> list[LayerEntities]:
    """The model's prunable entities: a partition of its parameters into index sets.

    Parameters
    ----------
    model : nn.Module
        The network.
    entities : str, dict or list of LayerEntities
        One of ENTITY_KINDS (see the module docstring), a user partition
        ``{parameter name: LongTensor of entity ids}`` (ids 0..n-1, every element labelled), or a
        partition built already.
    tie_bias : bool
        A filter's / neuron's bias belongs to its entity.
    tie_batchnorm : bool
        The scale and shift of the BatchNorm that follows a layer belong to its entities.
    layer_names : list of str, optional
        Keep only these layers.
    ignored_layers : list of str
        Modules never regularized or pruned (names of ``model.named_modules()``; each must exist).
    example_input : torch.Tensor, optional
        One batch of inputs: with it the layers whose output channels are the model's outputs (the
        classifier, a convolutional classifier; output_layers.py) are left out of the kinds that
        prune output channels (OUTPUT_CHANNEL_KINDS and "groups"), so no output is ever pruned;
        "groups" needs it.

    Returns
    -------
    list of LayerEntities
        One per layer, checked disjoint (no element in two entities).
    """
    ignored = check_ignored_layers(model, ignored_layers)
    if isinstance(entities, list) and all(isinstance(layer, LayerEntities) for layer in entities):
        layers = list(entities)  # a partition built already (the pipeline traces its groups once)
    elif isinstance(entities, dict):
        layers = user_partition(model, entities)
    elif entities == "groups":
        if example_input is None:
            raise InvalidArgument("entities='groups' needs example_input (one batch of the model's inputs) "
                                  "to trace the dependency groups")
        ignored |= set(output_layers(model, example_input))
        layers, _ = group_entities(model, example_input, ignored_layers=sorted(ignored))
    else:
        if entities not in ENTITY_KINDS:
            raise InvalidArgument(f"entities must be one of {list(ENTITY_KINDS)} or a dict of per-parameter entity ids; "
                             f"got {entities!r}")
        following = _following_batchnorm(model) if tie_batchnorm else {}
        layers = [layer for name, module in model.named_modules()
                  if (layer := _module_entities(name, module, entities, tie_bias, following.get(name))) is not None]
    if example_input is not None and isinstance(entities, str) and entities in OUTPUT_CHANNEL_KINDS:
        ignored |= set(output_layers(model, example_input))
    layers = [layer for layer in layers if layer.name not in ignored]
    if layer_names is not None:
        known = {layer.name for layer in layers}
        unknown = sorted(set(layer_names) - known)
        if unknown:
            raise InvalidArgument(f"layer_names: {unknown[:8]} have no entities of kind {entities!r}")
        layers = [layer for layer in layers if layer.name in set(layer_names)]
    if not layers:
        raise InvalidArgument(f"the model has no layers with entities of kind {entities!r}")
    check_disjoint(layers)
    return layers


def check_ignored_layers(model: nn.Module, ignored_layers) -> set[str]:
    """The set of ``ignored_layers``, each a module name of ``model`` (else InvalidArgument)."""
    ignored = set(ignored_layers or ())
    unknown = sorted(ignored - {name for name, _ in model.named_modules()})
    if unknown:
        raise InvalidArgument(f"ignored_layers: the model has no modules {unknown[:8]}")
    return ignored


def check_disjoint(layers: list[LayerEntities]) -> None:
    """Every parameter element may belong to at most one entity of the partition."""
    seen: dict[int, torch.Tensor] = {}
    for layer in layers:
        for m in layer.members:
            counts = seen.setdefault(id(m.param), torch.zeros(m.param.numel(), dtype=torch.long))
            valid = m.index[m.index >= 0]
            counts.index_add_(0, valid.cpu(), torch.ones_like(valid, device="cpu"))
            if (counts > 1).any():
                raise InvalidArgument(f"entities overlap: elements of {m.name} belong to more than one entity")


def summary(layers: list[LayerEntities]) -> list[dict]:
    """Per layer: entity kind, number of entities, parameters per entity (min/max)."""
    return [{"layer": l.name, "kind": l.kind, "entities": l.n_entities, "params_per_entity_min": int(l.sizes.min()),
             "params_per_entity_max": int(l.sizes.max()), "params": int(l.sizes.sum())} for l in layers]
