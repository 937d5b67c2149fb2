"""Checkpoints written atomically (a temporary file in the same folder, fsynced, then renamed), so
a run killed at any moment leaves the previous checkpoint intact."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch


def save_atomically(obj, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_checkpoint(path):
    return torch.load(path, map_location="cpu", weights_only=False)
