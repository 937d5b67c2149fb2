"""spr-or, PyTorch side: entities, regularizers, models and the CLI.

    spr_penalty(W, alpha, M, variant)      per-entity SPR, differentiable (spr_torch.py)
    make_regularizer(kind, model, lam, ...) a penalty to add to the loss (regularizers.py)
    build_partition(model, entities)        prunable entities as index sets (entities.py)
    create_model(name, num_classes)         the paper's networks (models/)
"""

from .entities import build_partition, summary as entity_summary
from .models import create_model
from .regularizers import make_regularizer
from .spr_torch import spr_penalty

__version__ = "0.1.0"
__all__ = ["build_partition", "create_model", "entity_summary", "make_regularizer", "spr_penalty"]
