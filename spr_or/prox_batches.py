"""Batches of layers whose entities take the exact SPR prox (spr_prox_torch.py) in one call.

The prox's cost on a small model is mostly per call (a few passes over the rows, each a handful of
array operations), on a large one per element. Layers are therefore gathered into padded matrices
(one row per entity): columns [boxed | free], the boxed block (the layer's main weight, held in
[-M, M]) padded to the batch's widest, the free block (tied bias and BatchNorm, unboxed) likewise.
Zero padding changes nothing in the prox (a zero is never clipped and adds nothing to any sum).
Layers are sorted by boxed width and a batch grows into the next wider one while the padding it
adds stays under PADDING_BUDGET of the model's entity elements: ResNet-20's four widths become two
calls, a 1-D ResNet's two widths one.
"""

from __future__ import annotations

import torch

from .entities import LayerEntities
from .spr_prox_torch import spr_prox_rows

#: padding allowed when batches merge, as a fraction of all entity elements of the partition
PADDING_BUDGET = 0.15


def _widths(layer: LayerEntities) -> tuple[int, int]:
    """(boxed columns, free columns) of the layer's entity matrix."""
    return layer.main_width, sum(m.index.shape[1] for m in layer.members[layer.n_boxed:])


def _padding(layers: list[LayerEntities], batch: list[int]) -> int:
    """Zero elements a padded matrix of the layers in ``batch`` holds."""
    boxed, free = (max(v) for v in zip(*(_widths(layers[j]) for j in batch)))
    return sum(layers[j].n_entities * (boxed + free - sum(_widths(layers[j]))) for j in batch)


def plan_batches(layers: list[LayerEntities]) -> list[list[int]]:
    """Layer indices per batch (see the module docstring)."""
    order = sorted(range(len(layers)), key=lambda i: _widths(layers[i]))
    budget = PADDING_BUDGET * sum(layer.n_entities * sum(_widths(layer)) for layer in layers)
    batches: list[list[int]] = []
    for i in order:
        if batches:
            extra = _padding(layers, batches[-1] + [i]) - _padding(layers, batches[-1])
            if extra <= budget:
                budget -= extra
                batches[-1].append(i)
                continue
        batches.append([i])
    return batches


class ProxBatch:
    """One padded prox call over several layers: gather, prox, scatter back."""

    def __init__(self, layers: list[LayerEntities], step_scale: list[torch.Tensor], M: list[float], alpha: float):
        self.layers, self.alpha = layers, alpha
        self.boxed = max(layer.main_width for layer in layers)
        self.free = max(_widths(layer)[1] for layer in layers)
        self.rows = [layer.n_entities for layer in layers]
        #: lam * weight_i per row (float64); the prox's tau is this times the layer's step
        self.scale = torch.cat(step_scale)
        self.M = torch.cat([torch.full((n,), m, dtype=torch.float64) for n, m in zip(self.rows, M)])
        self.layer_of_row = torch.repeat_interleave(torch.arange(len(self.rows)), torch.tensor(self.rows))
        #: per layer, per member: the (row, column) block of the padded matrix it occupies, worked out once
        self.blocks = []
        start = 0
        for layer, n in zip(layers, self.rows):
            # boxed members side by side from column 0, the free ones from column self.boxed
            widths, b = [m.index.shape[1] for m in layer.members], layer.n_boxed
            columns = [sum(widths[:i]) for i in range(b)] + [self.boxed + sum(widths[b:i]) for i in range(b, len(widths))]
            self.blocks.append([(slice(start, start + n), slice(c, c + w)) for c, w in zip(columns, widths)])
            start += n

    def _gather(self) -> torch.Tensor:
        first = self.layers[0].members[0].param
        U = first.new_zeros(sum(self.rows), self.boxed + self.free)
        for layer, blocks in zip(self.layers, self.blocks):
            for member, block in zip(layer.members, blocks):
                U[block] = member.values()
        return U

    @torch.no_grad()
    def apply(self, steps: list[float]) -> None:
        """The exact prox of steps[l] * lam * weight_i * z_i for every entity i of every layer l."""
        U = self._gather()
        if self.scale.device != U.device or self.M.device != U.device:  # once: no copy per step
            self.scale, self.M, self.layer_of_row = (t.to(U.device) for t in (self.scale, self.M, self.layer_of_row))
        if all(s == steps[0] for s in steps):
            tau = self.scale * steps[0]
        else:  # per-layer learning rates
            tau = self.scale * torch.tensor(steps, dtype=torch.float64).to(U.device)[self.layer_of_row]
        V = spr_prox_rows(U, tau, self.alpha, self.M, self.boxed)
        for layer, blocks in zip(self.layers, self.blocks):
            layer.write_members([V[block] for block in blocks])
