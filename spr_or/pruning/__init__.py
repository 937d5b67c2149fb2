"""The end-to-end pruning pipeline (``spr-or prune``): config, data, phases, compaction, report."""

from .config import ConfigError, PruneConfig, load_config
from .pipeline import run_pruning

__all__ = ["ConfigError", "PruneConfig", "load_config", "run_pruning"]
