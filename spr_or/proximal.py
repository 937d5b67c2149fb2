"""Exact zeros (beyond the paper): proximal training with the SPR.

Instead of adding lam * sum_i weight_i z_i to the loss (a subgradient method, which leaves pruned
entities at small non-zero values and needs the paper's 1e-4 threshold), take the optimizer's step on
the loss alone and then the exact proximal step of lr * lam * weight_i * z_i per entity
(Regularizer.prox_, spr_prox_torch.py). Entities the prox sends to zero are exactly zero.

    opt = ProximalSPR(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), reg)
    loss.backward(); opt.step()            # SGD step on the loss, then the prox with the current lr
"""

from __future__ import annotations

import time

import torch

from spr_core.errors import InvalidArgument

from .regularizers import Regularizer


class ProximalSPR:
    """Optimizer wrapper: ``step()`` = the wrapped optimizer's step, then ``reg.prox_`` with, for
    each layer, the current learning rate of the parameter group holding its weight (so LR
    schedulers and per-group learning rates keep working)."""

    def __init__(self, optimizer: torch.optim.Optimizer, regularizer: Regularizer):
        if not regularizer.kind.has_prox(regularizer.variant):
            raise InvalidArgument(f"ProximalSPR needs a regularizer with an exact prox (kind 'spr', variant 'exact'); "
                                  f"got kind {regularizer.kind.name!r}, variant {regularizer.variant!r}")
        self.optimizer, self.regularizer = optimizer, regularizer
        #: wall-clock seconds spent in the prox since the last reset (the pipeline logs it per epoch)
        self.prox_seconds = 0.0

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        result = self.optimizer.step(closure)
        start = time.perf_counter()
        lr_of = {id(p): group["lr"] for group in self.optimizer.param_groups for p in group["params"]}
        self.regularizer.prox_(lambda layer: lr_of[id(layer.members[0].param)])
        self.prox_seconds += time.perf_counter() - start
        return result

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, state):
        self.optimizer.load_state_dict(state)
