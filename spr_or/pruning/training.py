"""One training epoch and one evaluation, shared by the three phases of the pipeline (dense
reference, training with the regularizer, fine-tuning): SGD with momentum and weight decay, the
regularizer added to the loss (subgradient, as in the paper) or applied by its exact proximal step
after each SGD step, a hook after each step (masks in fine-tuning), bf16 autocast and
channels_last on request, and a stop on the first non-finite loss."""

from __future__ import annotations

import math
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from tqdm import tqdm

from spr_core.errors import NonFiniteLoss

__all__ = ["NonFiniteLoss", "evaluate", "make_optimizer", "train_one_epoch"]




def make_optimizer(model, phase) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.MultiStepLR]:
    """SGD over all of ``model``'s parameters with ``phase``'s (a PhaseConfig) lr, momentum and weight
    decay, and its MultiStepLR (lr times ``gamma`` at each of ``milestones``, stepped per epoch)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=phase.lr, momentum=phase.momentum,
                                weight_decay=phase.weight_decay)
    return optimizer, torch.optim.lr_scheduler.MultiStepLR(optimizer, phase.milestones, phase.gamma)


def _autocast(device: torch.device, bf16: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()


def _to_device(x, device, channels_last):
    x = x.to(device, non_blocking=True)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


#: steps between the checks of the loss (each reads the loss back from the device: a GPU sync)
CHECK_EVERY = 25


def train_one_epoch(model, loader, optimizer, device, *, regularizer=None, proximal=False, after_step=None,
                    after_backward=None, bf16=False, channels_last=False, description="", show_progress=True) -> dict:
    """Mean training loss (data term) and penalty over the epoch; NonFiniteLoss on NaN/inf.

    The loss stays on the device and is read back every CHECK_EVERY steps and at the end (not after
    every step, which would stall a GPU); a non-finite loss stops the epoch at the next check, before
    any checkpoint is written."""
    model.train()
    total_loss = total_penalty = torch.zeros((), dtype=torch.float64, device=device)
    steps = checked = 0

    def check() -> float:
        value = float(total_loss + total_penalty)
        if not math.isfinite(value):
            raise NonFiniteLoss(f"{description}: the loss became {value} within steps {checked + 1}-{steps} of the epoch")
        return value

    bar = tqdm(loader, desc=description, leave=False, disable=not show_progress, mininterval=1.0)
    for x, y in bar:
        x, y = _to_device(x, device, channels_last), y.to(device, non_blocking=True)
        with _autocast(device, bf16):
            loss = F.cross_entropy(model(x), y)
        penalty = regularizer() if regularizer is not None and not proximal else None
        objective = loss + penalty if penalty is not None else loss
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        if after_backward is not None:
            after_backward()
        optimizer.step()
        if after_step is not None:
            after_step()
        total_loss = total_loss + loss.detach()
        if penalty is not None:
            total_penalty = total_penalty + penalty.detach()
        steps += 1
        if steps % CHECK_EVERY == 0:
            check()
            checked = steps
            bar.set_postfix(loss=f"{float(total_loss) / steps:.4f}", refresh=False)
    check()
    out = {"train_loss": float(total_loss) / max(steps, 1), "steps": steps}
    if regularizer is not None:
        with torch.no_grad():
            out["penalty"] = float(regularizer())
    return out


@torch.no_grad()
def evaluate(model, loader, device, *, bf16=False, channels_last=False, context=None) -> dict:
    """Top-1 accuracy (%) and mean loss; summed over ranks when ``context`` is distributed."""
    model.eval()
    correct, loss_sum, count = 0.0, 0.0, 0.0
    for x, y in loader:
        x, y = _to_device(x, device, channels_last), y.to(device, non_blocking=True)
        with _autocast(device, bf16):
            logits = model(x)
        loss_sum += float(F.cross_entropy(logits.float(), y, reduction="sum"))
        correct += float((logits.argmax(1) == y).sum())
        count += y.numel()
    if context is not None:
        correct, loss_sum, count = context.sum([correct, loss_sum, count])
    return {"test_accuracy": 100.0 * correct / max(count, 1), "test_loss": loss_sum / max(count, 1)}
