"""Checkpoints written atomically (a temporary file in the same folder, fsynced, then renamed), so
a run killed at any moment leaves the previous checkpoint intact."""

from __future__ import annotations

from pathlib import Path

import torch

from ..atomic_files import write_bytes_atomically


def save_atomically(obj, path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (temporary file, fsync, rename); returns the path."""
    return write_bytes_atomically(path, lambda f: torch.save(obj, f))


def load_checkpoint(path):
    """The object saved at ``path``, its tensors on the CPU (full unpickling: load only trusted files)."""
    return torch.load(path, map_location="cpu", weights_only=False)
