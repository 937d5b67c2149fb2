"""Checkpoints written atomically (a temporary file in the same folder, fsynced, then renamed), so
a run killed at any moment leaves the previous checkpoint intact."""

from __future__ import annotations

from pathlib import Path

import torch

from ..atomic_files import write_bytes_atomically


def save_atomically(obj, path) -> Path:
    return write_bytes_atomically(path, lambda f: torch.save(obj, f))


def load_checkpoint(path):
    return torch.load(path, map_location="cpu", weights_only=False)
