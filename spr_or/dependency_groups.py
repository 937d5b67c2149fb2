"""Entities on dependency groups (``entities="groups"``): one entity per removable channel, made of
every parameter slice that physically goes when that channel is removed, so the regularizer drives
to zero exactly what compaction (spr_or.pruning.compaction.compact_groups) takes out.

A channel of a convolution or Linear layer can only be removed together with everything coupled to
it. Torch-Pruning's DependencyGraph (Fang et al., CVPR 2023) finds these couplings: a *group* is
rooted at one layer's output channels and lists, for every other layer, the slices tied to them
(``root_idxs`` says which root channel each slice belongs to, through concatenations and splits).
The entity of root channel c holds, of every layer of the group that the channel's removal takes
a slice from:

    convolution / Linear writing the channel   weight[c] (boxed by M) and bias[c]
    BatchNorm / InstanceNorm on the channel    weight[c], bias[c]        (DenseNet: after a concat too)
    PReLU with one slope per channel           weight[c]

and not the consumers' input slices weight[:, c]: an element weight[o, c] of a consumer is also in
the entity of its own output channel o, and the SPR is defined on a *partition* (MATH.md (1)-(3):
each weight in one group). With the writers' slices and the norms' scale and shift at zero, the
channel is exactly 0 after its norm and every consumer reads zeros from it, so removing it is exact.

Where the coupling is more than "the same channel everywhere":

- residual streams: one group, several writers (every block's last convolution, the stem);
- grouped convolutions (ResNeXt, RegNet): Torch-Pruning keeps ``groups`` and removes the same
  position from every convolution group, so an entity is position r of every group (the channels
  c with equal c mod channels-per-group); depthwise convolutions (one channel per group) follow
  their channel;
- concatenations (DenseNet, GoogLeNet, SqueezeNet): index remapping through ``root_idxs``;
- attention heads of nn.MultiheadAttention (head_entities): head h's q, k and v rows of the packed
  in-projection and their biases; compaction replaces the module by one with fewer heads
  (spr_or.pruning.attention_heads);
- option-A shortcuts of the CIFAR ResNets (``OptionAShortcut``: input channel c is output channel
  c + pad_before of the next stage): the streams of consecutive stages are one LayerEntities, and
  an entity is the chain stem channel c -> stage-2 channel c + p2 -> stage-3 channel c + p2 + p3
  (a module with ``in_channels``, ``out_channels``, ``pad_before`` and ``pad_after`` gets the
  pruner PaddedChannelsPruner, which keeps those numbers right as channels go).

Groups left out (never entities, listed by ``excluded_groups``): groups with a layer whose
parameters cannot be sliced per channel (LayerNorm / GroupNorm normalise over the channels, so
removing a zero channel changes the others; MultiheadAttention's embedding; an unwrapped
nn.Parameter; transposed convolutions; LSTM; Embedding), and groups with an ignored or output layer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch
import torch_pruning as tp
from torch import nn

from spr_core.errors import InvalidArgument

from .layer_entities import LayerEntities, Member

CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
ROOT_TYPES = (*CONV, nn.Linear)
CHANNEL_NORMS = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)
#: modules whose parameters cannot be sliced per channel: a group through one is left out
UNSLICEABLE = (nn.LayerNorm, nn.GroupNorm, nn.MultiheadAttention, nn.LSTM, nn.Embedding)


class GraphNotTraceable(InvalidArgument):
    """Torch-Pruning could not trace the model's dependency graph."""


def _is_padded_channels(module: nn.Module) -> bool:
    return all(hasattr(module, a) for a in ("in_channels", "out_channels", "pad_before", "pad_after")) \
        and not isinstance(module, CONV)


class PaddedChannelsPruner(tp.pruner.function.BasePruningFunc):
    """Torch-Pruning pruner of a parameter-free channel padding (``OptionAShortcut``): input channel
    c is output channel c + pad_before. Removing output channels in the padded regions shrinks the
    padding; those in the middle go with the input channels they carry (the same entity)."""

    def prune_out_channels(self, layer, idxs):
        """Remove output channels ``idxs``: the paddings shrink by the padded ones among them."""
        before, middle_end = layer.pad_before, layer.out_channels - layer.pad_after
        layer.pad_before -= sum(1 for i in idxs if i < before)
        layer.pad_after -= sum(1 for i in idxs if i >= middle_end)
        layer.out_channels -= len(idxs)
        return layer

    def prune_in_channels(self, layer, idxs):
        """Remove input channels ``idxs`` (their output channels go with the next stage's group)."""
        layer.in_channels -= len(idxs)
        return layer

    def get_out_channels(self, layer):
        """The padded width."""
        return layer.out_channels

    def get_in_channels(self, layer):
        """The input width."""
        return layer.in_channels


def customized_pruners(model: nn.Module) -> dict:
    """{module class: pruner} for the parameter-free channel paddings in ``model``."""
    return {type(m): PaddedChannelsPruner() for m in model.modules() if _is_padded_channels(m)}


def trace_dependencies(model: nn.Module, example_input: torch.Tensor) -> tp.DependencyGraph:
    """Torch-Pruning's dependency graph of ``model`` on ``example_input`` (must not run under
    no_grad); a model it cannot trace gets an error naming the failure and the way out."""
    training = model.training
    try:
        with torch.enable_grad():  # traced in eval mode: BatchNorm's running statistics stay as they are
            return tp.DependencyGraph().build_dependency(model.eval(), example_inputs=example_input, verbose=False,
                                                         customized_pruners=customized_pruners(model))
    except Exception as error:  # noqa: BLE001 - any failure inside the tracer is reported as one
        where = _failing_module(model, error)
        raise GraphNotTraceable(
            f"entities='groups': Torch-Pruning cannot trace the dependency graph of {type(model).__name__}"
            f"{where}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}. Leave the "
            "offending modules out with ignored_layers=[...], or use entities='filters'") from error
    finally:
        model.train(training)


def _failing_module(model: nn.Module, error: Exception) -> str:
    """' (in module NAME)' for the innermost module of the model named in the traceback, if any."""
    names = {id(m): n for n, m in model.named_modules() if n}
    tb, found = error.__traceback__, None
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if owner is not None and id(owner) in names:
            found = names[id(owner)]
        tb = tb.tb_next
    return f" (in module {found})" if found else ""


class _UnionFind:
    def __init__(self):
        self.parent: dict = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _channel_slices(module: nn.Module, name: str, channels: torch.Tensor, out_side: bool):
    """[(param name, parameter, boxed, elements)] removed with ``channels`` of ``module``:
    ``elements`` is (len(channels), k), row j the flat element indices that go with channels[j];
    None if the module's parameters cannot be sliced per channel (its type is the reason)."""
    prefix = f"{name}." if name else ""
    one_each = channels.view(-1, 1)
    if isinstance(module, (*CONV, nn.Linear)):
        if isinstance(module, CONV) and module.transposed:
            return None
        depthwise = isinstance(module, CONV) and module.groups == module.out_channels and module.groups > 1
        if not (out_side or depthwise):
            return []  # a consumer's input slice: in the entity of the consumer's own output channel
        w = module.weight
        per_row = w[0].numel()
        out = [(f"{prefix}weight", w, True, channels.view(-1, 1) * per_row + torch.arange(per_row))]
        if module.bias is not None:
            out.append((f"{prefix}bias", module.bias, False, one_each))
        return out
    if isinstance(module, CHANNEL_NORMS):
        if not module.affine:
            return []
        return [(f"{prefix}weight", module.weight, False, one_each), (f"{prefix}bias", module.bias, False, one_each)]
    if isinstance(module, nn.PReLU):
        return [] if module.num_parameters == 1 else [(f"{prefix}weight", module.weight, False, one_each)]
    if not any(True for _ in module.parameters(recurse=False)) and not isinstance(module, UNSLICEABLE):
        return []  # parameter-free operations (additions, concatenations, activations, reshapes)
    return None


def _reachable(graph: tp.DependencyGraph, root: nn.Module) -> list[tuple[nn.Module, bool]]:
    """(module, out_side) of every dependency that removing ``root``'s output channels triggers,
    found without Torch-Pruning's index mapping (which can take tens of minutes through the window
    reshapes of a Swin transformer's stream): enough to see whether a group can be an entity."""
    pruner = graph.get_pruner_of_module(root)
    start = (graph.module2node[root], pruner.prune_out_channels)
    seen, stack, found = {start}, [start], []
    while stack:
        node, handler = stack.pop()
        found.append((node.module, graph.is_out_channel_pruning_fn(handler)))
        for dep in node.dependencies:
            if dep.is_triggered_by(handler) and (dep.target, dep.handler) not in seen:
                seen.add((dep.target, dep.handler))
                stack.append((dep.target, dep.handler))
    return found


def _pruning_groups(graph: tp.DependencyGraph, model: nn.Module, ignored: list, names: dict):
    """Yield (root name, Torch-Pruning group or None, reason) for every group rooted at a
    convolution or Linear layer with no ignored writer, as ``DependencyGraph.get_all_groups`` does,
    except that a group through a module of UNSLICEABLE is reported with its reason before
    Torch-Pruning maps its indices."""
    visited: set = set()
    ignored_ids = {id(m) for m in ignored}
    for module in list(graph.module2node):
        if not isinstance(module, ROOT_TYPES) or id(module) in ignored_ids or id(module) in visited:
            continue
        pruner = graph.get_pruner_of_module(module)
        if pruner is None or pruner.get_out_channels(module) is None:
            continue
        reached = _reachable(graph, module)
        blocker = next((m for m, _ in reached if isinstance(m, UNSLICEABLE)), None)
        if blocker is not None:  # (the walk may over-reach through concatenations: conservative)
            visited |= {id(m) for m, out_side in reached if out_side}
            yield names[module], None, f"{type(blocker).__name__} {names.get(blocker, '')!r} cannot be sliced per channel"
            continue
        group = graph.get_pruning_group(module, pruner.prune_out_channels, list(range(pruner.get_out_channels(module))))
        writers = [item.dep.target.module for item in group if graph.is_out_channel_pruning_fn(item.dep.handler)]
        visited |= {id(m) for m in writers}
        if not any(id(m) in ignored_ids for m in writers):  # else not prunable, as in get_all_groups
            yield names[module], group, None


def _grouped_conv_key(module: nn.Module, channel: int, out_side: bool):
    """Channels of a grouped (not depthwise) convolution that Torch-Pruning removes together: the
    same position in every convolution group."""
    if not isinstance(module, CONV) or module.groups == 1 or module.groups == module.out_channels:
        return None
    per_group = module.out_channels // module.groups if out_side else module.in_channels // module.groups
    return ("conv-group", id(module), out_side, channel % per_group)


def _group_type(kinds: set[str]) -> str:
    for kind in ("padded residual stream", "concatenation", "grouped convolution", "depthwise convolution",
                 "residual stream", "linear"):
        if kind in kinds:
            return kind
    return "convolution"


@dataclass
class ExcludedGroup:
    """A dependency group left out of the entities, and why."""

    root: str
    reason: str


def group_entities(model: nn.Module, example_input: torch.Tensor, *, ignored_layers=(),
                   graph: tp.DependencyGraph | None = None) -> tuple[list[LayerEntities], list[ExcludedGroup]]:
    """The ``"groups"`` partition of ``model`` (module docstring) and the groups left out.

    Parameters
    ----------
    model : nn.Module
        The network (traced once on ``example_input``).
    example_input : torch.Tensor
        One batch of inputs.
    ignored_layers : list of str
        Modules whose output channels are never removed: every group writing through one is left out.
    graph : tp.DependencyGraph, optional
        A graph of ``model`` traced already.

    Returns
    -------
    (list of LayerEntities, list of ExcludedGroup)
        One LayerEntities per set of coupled groups (kind "groups"; ``removal`` lists, per entity,
        the (root layer, root channel) pairs compaction removes; ``group_type`` names the coupling).
    """
    graph = graph or trace_dependencies(model, example_input)
    names = {m: n for n, m in model.named_modules()}
    modules = dict(model.named_modules())
    ignored = [modules[n] for n in ignored_layers]
    uf = _UnionFind()
    slices: list = []                                      # (root, param name, root channels, elements)
    params: dict = {}                                      # param name -> (parameter, boxed)
    excluded: list = []
    built: dict = {}                                       # root -> (width, kinds, slices, links, pad sides)
    pad_sides: dict = defaultdict(set)                     # root -> {(padding module, out side)}
    for root, group, reason in _pruning_groups(graph, model, ignored, names):
        if group is None:
            excluded.append(ExcludedGroup(root, reason))
            continue
        root_module = modules[root]
        kinds, group_slices, links = set(), [], []
        writers = 0
        for item in group:
            dep, module = item.dep, item.dep.target.module
            if isinstance(module, nn.Parameter):
                reason = "an unwrapped nn.Parameter is coupled to its channels"
                break
            out_side = graph.is_out_channel_pruning_fn(dep.handler)
            name = names.get(module, "")
            if _is_padded_channels(module):
                kinds.add("padded residual stream")
                pad_sides[root].add((id(module), out_side))
                for idx, root_idx in zip(item.idxs, item.root_idxs):
                    side_idx = idx - module.pad_before if out_side else idx
                    links.append((root_idx, ("pad", id(module), side_idx)))
                continue
            if isinstance(module, ROOT_TYPES) and out_side:
                writers += 1
            if isinstance(module, CONV) and module.groups > 1:
                kinds.add("depthwise convolution" if module.groups == module.out_channels else "grouped convolution")
            if type(module).__name__ in ("_ConcatOp", "_SplitOp"):
                kinds.add("concatenation")
            idxs = torch.as_tensor([int(i) for i in item.idxs], dtype=torch.long)
            root_idxs = torch.as_tensor([int(i) for i in item.root_idxs], dtype=torch.long)
            parts = _channel_slices(module, name, idxs, out_side)
            if parts is None:
                reason = f"{type(module).__name__} {name!r} cannot be sliced per channel"
                break
            for pname, param, boxed, elements in parts:
                params[pname] = (param, boxed)
                group_slices.append((pname, root_idxs, elements))
            for idx, root_idx in zip(idxs.tolist(), root_idxs.tolist()):
                key = _grouped_conv_key(module, idx, out_side)
                if key is not None:
                    links.append((root_idx, key))
            if reason:
                break
        if reason:
            excluded.append(ExcludedGroup(root, reason))
            continue
        if writers > 1:
            kinds.add("residual stream")
        if isinstance(root_module, nn.Linear):
            kinds.add("linear")
        built[root] = (len(group[0].idxs), kinds, group_slices, links, pad_sides[root])
    # a channel padding couples the groups on its two sides: if one side is not an entity (left out,
    # or holding an ignored layer), the other cannot be removed alone either
    changed = True
    while changed:
        changed = False
        sides: dict = defaultdict(set)
        for record in built.values():
            for module_id, side in record[4]:
                sides[module_id].add(side)
        for root in list(built):
            if any(len(sides[module_id]) < 2 for module_id, _ in built[root][4]):
                excluded.append(ExcludedGroup(root, "coupled through a channel padding to a group that is left out"))
                del built[root]
                changed = True
    widths = {root: record[0] for root, record in built.items()}
    for root, (width, _, group_slices, links, _) in built.items():
        for channel in range(width):
            uf.find((root, channel))
        slices += [(root, pname, channels, elements) for pname, channels, elements in group_slices]
        for channel, key in links:
            uf.union((root, int(channel)), key)
    # pad links: ("pad", module, c) was joined with the channel that feeds input c and with the
    # channel that output c + pad_before belongs to; components of root channels are the entities
    components: dict = defaultdict(list)
    for root, width in widths.items():
        for channel in range(width):
            components[uf.find((root, channel))].append((root, channel))
    # a set of groups joined by some entity is one LayerEntities
    group_uf = _UnionFind()
    for nodes in components.values():
        for root, _ in nodes[1:]:
            group_uf.union(nodes[0][0], root)
    by_layer: dict = defaultdict(list)
    position = {name: i for i, name in enumerate(modules)}
    order = {root: position[root] for root in built}
    for nodes in components.values():
        by_layer[group_uf.find(nodes[0][0])].append(sorted(nodes, key=lambda n: (order[n[0]], n[1])))
    layers = [head_entities(name, module) for name, module in model.named_modules()
              if isinstance(module, nn.MultiheadAttention) and module.in_proj_weight is not None
              and name not in set(ignored_layers)]
    for leader in sorted(by_layer, key=order.get):
        entities = sorted(by_layer[leader], key=lambda nodes: (order[nodes[0][0]], nodes[0][1]))
        members_roots = sorted({root for nodes in entities for root, _ in nodes}, key=order.get)
        kinds = set().union(*(built[r][1] for r in members_roots))
        layers.append(_layer_entities(leader, entities, slices, params, widths, _group_type(kinds)))
    return layers, excluded


def head_entities(name: str, attention: nn.MultiheadAttention) -> LayerEntities:
    """The heads of ``attention`` as entities: head h is its q, k and v rows of the packed
    in-projection (and their biases). With them at zero the head outputs exactly 0 (a zero value
    projection), so its columns of the output projection can go too; they are not in the entity,
    the output projection's rows belonging to the embedding's channels (a partition)."""
    embed, heads = attention.embed_dim, attention.num_heads
    d = embed // heads
    rows = torch.arange(3 * embed).view(3, heads, d).permute(1, 0, 2).reshape(heads, -1)  # q, k, v rows of head h
    weight_index = (rows.unsqueeze(-1) * embed + torch.arange(embed)).reshape(heads, -1)
    prefix = f"{name}." if name else ""
    members = [Member(f"{prefix}in_proj_weight", attention.in_proj_weight,
                      weight_index.to(attention.in_proj_weight.device))]
    if attention.in_proj_bias is not None:
        members.append(Member(f"{prefix}in_proj_bias", attention.in_proj_bias, rows.to(attention.in_proj_bias.device)))
    layer = LayerEntities(name, "groups", members, members[0].name, n_boxed=1)
    layer.removal = [[(name, h)] for h in range(heads)]
    layer.group_type = "attention heads"
    return layer


def _layer_entities(name: str, entities: list, slices: list, params: dict, widths: dict,
                    group_type: str) -> LayerEntities:
    """One LayerEntities from its entities (lists of (root, channel) nodes) and the slices of its
    roots: one Member per parameter (boxed ones first), each with an (n_entities, k) index padded
    with -1 (an element met twice, as a depthwise convolution's row on both of its sides, counts once)."""
    row_of = {node: i for i, nodes in enumerate(entities) for node in nodes}
    row_tables = {root: torch.tensor([row_of[(root, c)] for c in range(widths[root])])
                  for root in {root for nodes in entities for root, _ in nodes}}
    per_param: dict = defaultdict(list)
    for root, pname, channels, elements in slices:
        if root in row_tables:
            per_param[pname].append((row_tables[root][channels], elements))
    ordered = sorted(per_param, key=lambda p: not params[p][1])  # boxed first, stable otherwise
    members = []
    for pname in ordered:
        param, _ = params[pname]
        (rows, elements), *more = per_param[pname]
        if not more and torch.equal(torch.sort(rows).values, torch.arange(len(entities))):
            index = torch.empty_like(elements)
            index[rows] = elements  # one slice, one channel per entity: a permutation of rows
        else:  # several slices, or entities of several channels: element by element
            rows = torch.cat([r.repeat_interleave(e.shape[1]) for r, e in per_param[pname]])
            elements = torch.cat([e.reshape(-1) for _, e in per_param[pname]])
            pairs = torch.unique(rows * param.numel() + elements)  # sorted by row, then element
            rows, elements = pairs // param.numel(), pairs % param.numel()
            counts = torch.bincount(rows, minlength=len(entities))
            position = torch.arange(rows.numel()) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
            index = torch.full((len(entities), int(counts.max())), -1, dtype=torch.long)
            index[rows, position] = elements
        full = index.shape[0] == param.shape[0] and index.numel() == param.numel()
        layout = "rows" if full and torch.equal(index.view(-1), torch.arange(param.numel())) else "index"
        members.append(Member(pname, param, index.to(param.device), layout))
    n_boxed = sum(1 for p in ordered if params[p][1])
    layer = LayerEntities(name, "groups", members, members[0].name, n_boxed=n_boxed)
    layer.removal = [list(nodes) for nodes in entities]
    layer.group_type = group_type
    return layer
