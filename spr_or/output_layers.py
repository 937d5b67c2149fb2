"""The layers whose output channels are the model's outputs (a classifier's rows, a convolutional
classifier's filters): pruning one of them would delete an output, so entity builders leave them
out (``build_partition(..., example_input=x)``).

Found from the autograd graph of one forward pass: walking back from the outputs, the first
convolution or Linear layer met on every path (through activations, pooling, reshapes, BatchNorm and
additions, which keep channels) produces output channels directly.
"""

from __future__ import annotations

import torch
from torch import nn

PRODUCERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
#: autograd nodes between a weight and the op that uses it (Linear multiplies by weight.t())
_WEIGHT_VIEWS = ("TBackward0", "PermuteBackward0", "ViewBackward0", "ReshapeAliasBackward0", "ToCopyBackward0")


def _tensors(output):
    if torch.is_tensor(output):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in _tensors(item)]
    return []


def _weight_under(fn, weight_names: dict) -> str | None:
    """The layer whose weight ``fn`` accumulates into, directly or through one view-like node."""
    for _ in range(2):
        if fn is None:
            return None
        variable = getattr(fn, "variable", None)
        if variable is not None:
            return weight_names.get(id(variable))
        if type(fn).__name__ not in _WEIGHT_VIEWS or len(fn.next_functions) != 1:
            return None
        fn = fn.next_functions[0][0]
    return None


def output_layers(model: nn.Module, example_input: torch.Tensor) -> list[str]:
    """Names of the convolution / Linear layers whose outputs reach the model's outputs with no
    other such layer in between.

    Parameters
    ----------
    model : nn.Module
        The network (run once in eval mode on ``example_input``; its mode is restored).
    example_input : torch.Tensor
        One batch of inputs.

    Returns
    -------
    list of str
        In the order met; empty if the graph holds no such layer with a weight that requires grad.
    """
    weight_names = {id(m.weight): name for name, m in model.named_modules()
                    if isinstance(m, PRODUCERS) and isinstance(getattr(m, "weight", None), torch.Tensor)}
    training = model.training
    try:
        with torch.enable_grad():
            outputs = _tensors(model.eval()(example_input))
    finally:
        model.train(training)
    found: list[str] = []
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    seen = set()
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        layers = [name for child, _ in fn.next_functions if (name := _weight_under(child, weight_names))]
        if layers:  # this op uses a layer's weight: the layer produces these channels; stop here
            found += [name for name in layers if name not in found]
            continue
        stack += [child for child, _ in fn.next_functions if child is not None]
    return found
