"""spr-or, PyTorch side: entities, regularizers, models and data (imports with torch, torchvision and
torch-pruning alone); above them spr_or.pruning, spr_or.sweeps, spr_or.studies and the command line
(spr_or.commands, spr_or.cli). docs/architecture.md shows the layers.

    spr_penalty(W, alpha, M, variant=...)  per-entity SPR of the rows of W, differentiable (spr_torch.py;
                                            also spr_penalty_many, the name of its numpy twin)
    make_regularizer(kind, model, lam=...) a penalty to add to the loss (regularizers.py; kinds in KINDS)
    build_partition(model, entities)        prunable entities as index sets (entities.py)
    create_model(name, num_classes)         the paper's networks (models/)
"""

from .entities import build_partition, summary as entity_summary
from .models import create_model
from .regularizer_kinds import KINDS, RegularizerKind, register_kind
from .regularizers import make_regularizer
from .spr_torch import spr_penalty, spr_penalty_many

__version__ = "0.1.0"
__all__ = ["KINDS", "RegularizerKind", "build_partition", "create_model", "entity_summary", "make_regularizer",
           "register_kind", "spr_penalty", "spr_penalty_many"]
