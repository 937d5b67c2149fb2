"""Removing attention heads from an ``nn.MultiheadAttention`` (the head entities of
spr_or.dependency_groups): nn.MultiheadAttention ties the heads' total width to the embedding
(num_heads * head_dim == embed_dim), so a model with fewer heads needs another module.
``HeadPrunedAttention`` keeps the heads left, with their q/k/v projections, their columns of the
output projection, and the same head dimension (so the same 1/sqrt(head_dim) scaling): for
self-attention without masks it computes exactly what the original computes when the removed heads'
q/k/v rows are zero (a zero value row gives the head a zero output, whatever its attention).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spr_core.errors import InvalidArgument


class HeadPrunedAttention(nn.Module):
    """Self-attention with the heads ``keep`` of ``attention`` (an nn.MultiheadAttention with a
    packed in-projection); called like it: ``(query, key, value, need_weights=...)`` ->
    ``(output, None)``. Supports self-attention (query, key and value the same tensor) without
    masks, as in torchvision's ViT encoder blocks."""

    def __init__(self, attention: nn.MultiheadAttention, keep: list[int]):
        super().__init__()
        if attention.in_proj_weight is None:
            raise InvalidArgument("HeadPrunedAttention needs a packed in-projection (kdim == vdim == embed_dim)")
        embed, heads = attention.embed_dim, attention.num_heads
        self.head_dim, self.num_heads = embed // heads, len(keep)
        self.batch_first, self.dropout = attention.batch_first, attention.dropout
        rows = torch.tensor([part * embed + h * self.head_dim + j
                             for part in range(3) for h in keep for j in range(self.head_dim)])
        columns = torch.tensor([h * self.head_dim + j for h in keep for j in range(self.head_dim)])
        width = self.num_heads * self.head_dim
        has_bias = attention.in_proj_bias is not None
        self.in_proj = nn.Linear(embed, 3 * width, bias=has_bias)
        self.out_proj = nn.Linear(width, embed, bias=attention.out_proj.bias is not None)
        with torch.no_grad():
            self.in_proj.weight.copy_(attention.in_proj_weight[rows])
            if has_bias:
                self.in_proj.bias.copy_(attention.in_proj_bias[rows])
            self.out_proj.weight.copy_(attention.out_proj.weight[:, columns])
            if self.out_proj.bias is not None:
                self.out_proj.bias.copy_(attention.out_proj.bias)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """Multi-head self-attention over the heads kept; the attention weights are not returned."""
        if key_padding_mask is not None or attn_mask is not None or is_causal:
            raise InvalidArgument("HeadPrunedAttention supports self-attention without masks")
        x = query if self.batch_first else query.transpose(0, 1)
        batch, length, _ = x.shape
        qkv = self.in_proj(x).view(batch, length, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2],
                                             dropout_p=self.dropout if self.training else 0.0)
        out = self.out_proj(out.transpose(1, 2).reshape(batch, length, -1))
        return (out if self.batch_first else out.transpose(0, 1)), None


def remove_heads_(model: nn.Module, name: str, removed: list[int]) -> None:
    """Replace the nn.MultiheadAttention ``name`` of ``model`` by a HeadPrunedAttention without the
    heads ``removed``."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    attention = getattr(parent, child)
    keep = [h for h in range(attention.num_heads) if h not in set(removed)]
    setattr(parent, child, HeadPrunedAttention(attention, keep))
