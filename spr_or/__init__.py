"""spr-or, PyTorch side: entities, regularizers, pruning, training, models, data and the CLI."""

__version__ = "0.1.0"
