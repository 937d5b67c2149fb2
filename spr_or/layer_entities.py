"""The data of a partition: ``Member`` (one parameter's share of a layer's entities) and
``LayerEntities`` (the entities of one layer, or of one set of coupled dependency groups). The
builders live in entities.py (per layer) and dependency_groups.py (per dependency group)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class Member:
    """One parameter's share of a layer's entities: index (n_entities, k_p) into param.reshape(-1)."""

    name: str
    param: nn.Parameter
    index: torch.Tensor  # long, -1 marks padding
    #: "rows" (entity i = param[i]) or "columns" (param[:, i]) gather by a view, without indexing;
    #: "index" uses ``index``
    layout: str = "index"

    def values(self) -> torch.Tensor:
        """This member's current values as an (n_entities, k_p) matrix, entity i in row i, padding
        (index -1) as zeros; a view for the "rows" and "columns" layouts, a gather for "index"
        (differentiable w.r.t. ``param`` either way)."""
        if self.layout == "rows":
            return self.param.reshape(self.param.shape[0], -1)
        if self.layout == "columns":
            p = self.param
            return p.reshape(p.shape[0], p.shape[1], -1).transpose(0, 1).reshape(p.shape[1], -1)
        flat = self.param.reshape(-1)
        if bool((self.index < 0).any()):
            flat = torch.cat([flat, flat.new_zeros(1)])
            return flat[torch.where(self.index >= 0, self.index, flat.numel() - 1)]
        return flat[self.index]


@dataclass
class LayerEntities:
    """The ``n_entities`` entities of one layer (or one set of coupled dependency groups):
    ``members`` (one ``Member`` per parameter they span, the ``n_boxed`` boxed weights first), the
    ``name`` (the key of per-layer M and of the masks), the builder ``kind`` that made it, and
    ``weight_name``, the main weight parameter. Entities of dependency groups also carry
    ``removal`` (per entity, the (root layer, root channel) pairs compaction removes with it) and
    ``group_type`` (the coupling: "residual stream", "concatenation", ...)."""

    name: str                 # the layer (module) name; the key of per-layer M
    kind: str                 # which builder made it
    members: list[Member]
    weight_name: str          # the main weight parameter (M from a reference uses it)
    n_entities: int = field(init=False)
    #: the first n_boxed members are weights under the box |w| <= M; the others (biases,
    #: BatchNorm scales and shifts) are penalised but not boxed
    n_boxed: int = 1
    removal: list | None = None
    group_type: str = ""

    def __post_init__(self):
        self.n_entities = self.members[0].index.shape[0]

    @property
    def sizes(self) -> torch.Tensor:
        """Parameters per entity, u_i."""
        return sum((m.index >= 0).sum(dim=1) for m in self.members)

    def matrix(self) -> torch.Tensor:
        """Current values as (n_entities, k), padding as zeros; differentiable w.r.t. the parameters."""
        parts = [m.values() for m in self.members]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def write_matrix(self, V: torch.Tensor) -> None:
        """Write an (n_entities, k) matrix back into the member parameters (padding ignored)."""
        self.write_members(torch.split(V, [m.index.shape[1] for m in self.members], dim=1))

    @torch.no_grad()
    def write_members(self, blocks) -> None:
        """Write one (n_entities, k_p) block per member back into its parameter (padding ignored)."""
        for m, block in zip(self.members, blocks):
            if m.layout == "rows":  # entity i = param[i]: one copy, any memory format
                m.param.copy_(block.reshape(m.param.shape))
                continue
            valid = m.index >= 0
            flat = m.param.detach().reshape(-1).clone()  # any memory format (channels_last included)
            flat[m.index[valid]] = block[valid].to(m.param.dtype)
            m.param.copy_(flat.view(m.param.shape))

    @property
    def main_width(self) -> int:
        """Columns of the boxed weights (the first ``n_boxed`` members): the box |w| <= M applies to
        them only; tied biases and BatchNorm scales/shifts are penalised but not boxed."""
        return sum(m.index.shape[1] for m in self.members[:self.n_boxed])

    @property
    def boxed_sizes(self) -> torch.Tensor:
        """Boxed weights per entity (the filter's own weights for "filters"; padding not counted)."""
        return sum((m.index >= 0).sum(dim=1) for m in self.members[:self.n_boxed])

    @property
    def writer_modules(self) -> list[str]:
        """Names of the modules whose boxed weights the entities hold (the layer for "filters",
        every writer of the group for "groups"; members named "<module>.<parameter>")."""
        return list(dict.fromkeys(m.name.rsplit(".", 1)[0] if "." in m.name else "" for m in self.members[:self.n_boxed]))

    def boxed_padding(self) -> torch.Tensor:
        """Padding columns (index -1) of each entity's boxed part (0 for equal-sized entities)."""
        return self.main_width - self.boxed_sizes

    def boxed_matrix(self) -> torch.Tensor:
        """The boxed columns of ``matrix()`` (the filter for "filters"), padding as zeros."""
        parts = [m.values() for m in self.members[:self.n_boxed]]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
