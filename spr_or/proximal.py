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
    schedulers and per-group learning rates keep working).

    The prox step, per entity i of a layer whose weight has learning rate lr, is the exact SPR prox
    argmin_v 1/2 ||v - w^i||^2 + lr * lam * weight_i * z_i(v; alpha, M) with ||v||_inf <= M
    (MATH.md, "The prox, fast"; z_i and weight_i as in eq. (5), "Projecting y away (the SPR)":
    weight_i = u_i / sum_k u_k with weighting "size", 1 with "none"), so the iteration is proximal
    gradient on the loss plus the penalty of (5), and the entities it prunes are exactly zero.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        The wrapped optimizer; its ``step`` sees the gradients of the loss alone (momentum and weight
        decay act as usual) and its parameter groups' current ``lr`` is the prox step size.
    regularizer : Regularizer
        The penalty whose prox is applied (``make_regularizer``): it must have an exact prox, i.e.
        kind "spr" with variant "exact"; its lam, alpha, per-layer M and entity weights set the prox.
        Do not also add ``regularizer()`` to the loss.

    Raises
    ------
    InvalidArgument
        If the regularizer's kind has no exact prox in its variant.

    Attributes
    ----------
    prox_seconds : float
        Wall-clock seconds spent in the prox since it was last reset to 0.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, regularizer: Regularizer):
        if not regularizer.kind.has_prox(regularizer.variant):
            raise InvalidArgument(f"ProximalSPR needs a regularizer with an exact prox (kind 'spr', variant 'exact'); "
                                  f"got kind {regularizer.kind.name!r}, variant {regularizer.variant!r}")
        self.optimizer, self.regularizer = optimizer, regularizer
        #: wall-clock seconds spent in the prox since the last reset (the pipeline logs it per epoch)
        self.prox_seconds = 0.0

    @property
    def param_groups(self):
        """The wrapped optimizer's parameter groups (so LR schedulers can drive this wrapper)."""
        return self.optimizer.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        """The wrapped optimizer's ``zero_grad``."""
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        """The wrapped optimizer's step (with ``closure``), then the exact SPR prox of every entity
        with step lr * lam * weight_i, lr read per layer from the group holding its main weight
        (``Regularizer.prox_``; MATH.md, "The prox, fast"). Returns what the optimizer's step returned;
        the prox's wall time is added to ``prox_seconds``."""
        result = self.optimizer.step(closure)
        start = time.perf_counter()
        lr_of = {id(p): group["lr"] for group in self.optimizer.param_groups for p in group["params"]}
        self.regularizer.prox_(lambda layer: lr_of[id(layer.members[0].param)])
        self.prox_seconds += time.perf_counter() - start
        return result

    def state_dict(self):
        """The wrapped optimizer's state_dict (the prox itself has no state)."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state):
        """Load ``state`` (from ``state_dict``) into the wrapped optimizer."""
        self.optimizer.load_state_dict(state)
