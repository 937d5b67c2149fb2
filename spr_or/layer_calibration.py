"""The calibration data of a convolution's channel selection (mip_models/conv_channel_selection.py):
the layer's input on a batch of samples, captured with forward pre-hooks, unfolded into patches.

For a convolution with C input channels, kernel k (K = prod(k) taps), groups = 1 and zero padding,
``unfold_patches`` returns A (N L, C K): one row per (sample, output position), the columns grouped by
input channel (channel c in columns c K .. c K + K - 1), so that the layer's output without bias is
A W^T with W = weight.reshape(O, C K) (MATH.md's (1)-(3) is then built on A and W in numpy).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spr_core.errors import InvalidArgument

#: the convolutions ``unfold_patches`` handles
UNFOLDABLE = (nn.Conv1d, nn.Conv2d)


def why_not_unfoldable(conv: nn.Module) -> str | None:
    """None if ``unfold_patches`` handles ``conv``, else the reason (a short phrase)."""
    if not isinstance(conv, UNFOLDABLE):
        return f"{type(conv).__name__} is not a Conv1d or Conv2d"
    if conv.groups != 1:
        return f"a grouped convolution (groups = {conv.groups}): an input channel feeds only its group's outputs"
    if conv.padding_mode != "zeros":
        return f"padding_mode {conv.padding_mode!r} (only zero padding is unfolded)"
    return None


def _explicit_padding(conv: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, tuple]:
    """(x zero-padded as ``conv`` pads it, the kernel's spatial shape) for the 2-D unfold."""
    kernel = tuple(conv.kernel_size)
    if conv.padding == "valid":
        return x, kernel
    if conv.padding == "same":  # torch: total d (k - 1), the left side gets the floor of half
        pads = []
        for k, d in zip(reversed(kernel), reversed(tuple(conv.dilation))):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads), kernel
    pads = [p for p in reversed(tuple(conv.padding)) for _ in range(2)]
    return F.pad(x, pads), kernel


@torch.no_grad()
def unfold_patches(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The patches A of ``conv``'s input ``x`` (module docstring), shape (N L, C K).

    Parameters
    ----------
    conv : nn.Conv1d or nn.Conv2d
        groups = 1, zero padding (``why_not_unfoldable``).
    x : torch.Tensor
        Its input, (N, C, L) or (N, C, H, W).

    Returns
    -------
    torch.Tensor
        Rows in the order (sample, output position); conv(x) without bias equals
        (A @ weight.reshape(O, -1).T) reshaped.

    Raises
    ------
    InvalidArgument
        A convolution ``unfold_patches`` does not handle.
    """
    reason = why_not_unfoldable(conv)
    if reason is not None:
        raise InvalidArgument(f"cannot unfold the input of this convolution: {reason}")
    x, kernel = _explicit_padding(conv, x)
    if isinstance(conv, nn.Conv1d):  # as a 2-D input of height 1
        x, kernel = x.unsqueeze(2), (1, kernel[0])
        dilation, stride = (1, conv.dilation[0]), (1, conv.stride[0])
    else:
        dilation, stride = tuple(conv.dilation), tuple(conv.stride)
    columns = F.unfold(x, kernel, dilation=dilation, stride=stride)  # (N, C K, L), channel-major
    return columns.transpose(1, 2).reshape(-1, columns.shape[1])


@torch.no_grad()
def capture_inputs(model: nn.Module, layer_names, inputs: torch.Tensor, *, batch_size: int = 256) -> dict:
    """{layer: its input on ``inputs``}, captured by forward pre-hooks in eval mode, on the CPU.

    Parameters
    ----------
    model : nn.Module
    layer_names : list of str
        Module names of ``model``.
    inputs : torch.Tensor
        The calibration samples, run through the model ``batch_size`` at a time.

    Returns
    -------
    dict
        {name: tensor (len(inputs), ...)}.
    """
    modules = dict(model.named_modules())
    captured: dict = {name: [] for name in layer_names}
    handles = [modules[name].register_forward_pre_hook(lambda _, args, name=name: captured[name].append(args[0].cpu()))
               for name in layer_names]
    training = model.training
    try:
        model.eval()
        for start in range(0, len(inputs), batch_size):
            model(inputs[start:start + batch_size])
    finally:
        for handle in handles:
            handle.remove()
        model.train(training)
    return {name: torch.cat(chunks) for name, chunks in captured.items()}
