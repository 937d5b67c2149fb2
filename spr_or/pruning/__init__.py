"""The end-to-end pruning pipeline (``spr-or prune``): config, data, phases, compaction, report."""

from .compaction import load_compact_model
from .config import ConfigError, PruneConfig, load_config
from .pipeline import run_pruning

__all__ = ["ConfigError", "PruneConfig", "load_compact_model", "load_config", "run_pruning"]
