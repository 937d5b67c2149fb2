"""Checkpoints: written atomically (a temporary file in the same folder, fsynced, then renamed), the
last two kept, each with its SHA-256, and loaded with ``torch.load(weights_only=True)`` (tensors,
state dicts and plain containers only: a crafted file cannot run code).

    checkpoints/last.pt        (+ last.pt.sha256)       the latest state
    checkpoints/previous.pt    (+ previous.pt.sha256)   the one before

A run killed at any moment leaves a good checkpoint: ``last.pt`` is replaced by a rename, and the
one before stays as ``previous.pt`` (a hard link to the old file, so it is never rewritten). On
resume a latest checkpoint that is truncated, damaged or fails its checksum is skipped with a
warning and the previous one is used; if neither is good the run stops with a message naming both.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import torch

from spr_core.errors import UserError

from ..atomic_files import ResultsNotWritten, write_bytes_atomically, write_text_atomically

LAST, PREVIOUS = "last.pt", "previous.pt"


class CheckpointUnreadable(UserError):
    """No checkpoint of a run folder can be loaded (damaged, truncated, or failing its checksum)."""


def save_atomically(obj, path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (temporary file, fsync, rename); returns the path."""
    return write_bytes_atomically(path, lambda f: torch.save(obj, f))


def sha256_of(path) -> str:
    """The SHA-256 of the file ``path``, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _keep_as_previous(folder: Path) -> None:
    """Make ``previous.pt`` (and its checksum) the current ``last.pt``: a hard link through a
    temporary name and a rename, so both names always point at complete files."""
    for name in (LAST, LAST + ".sha256"):
        source = folder / name
        if not source.exists():
            continue
        target = folder / name.replace(LAST, PREVIOUS)
        staging = folder / f".{target.name}.link"
        if staging.exists():
            staging.unlink()
        try:
            os.link(source, staging)
        except OSError:  # a file system without hard links: a copy
            staging.write_bytes(source.read_bytes())
        os.replace(staging, target)


def save_checkpoint(state: dict, folder) -> Path:
    """Write ``state`` as ``folder/last.pt`` with its checksum, keeping the one before as
    ``previous.pt``; returns the path of the new checkpoint."""
    folder = Path(folder)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    try:
        _keep_as_previous(folder)
    except OSError as err:
        raise ResultsNotWritten(f"cannot keep the previous checkpoint in {folder}: {err}") from err
    path = write_bytes_atomically(folder / LAST, lambda f: f.write(data))
    write_text_atomically(_checksum_path(path), hashlib.sha256(data).hexdigest() + "\n")
    return path


def checkpoint_paths(folder) -> list[Path]:
    """The checkpoints of ``folder`` that exist, newest first."""
    return [p for p in (Path(folder) / LAST, Path(folder) / PREVIOUS) if p.exists()]


def load_checkpoint(path):
    """The object saved at ``path``, its tensors on the CPU; ``weights_only`` loading (no code runs).
    A checksum file next to it, where there is one, must match."""
    path = Path(path)
    checksum = _checksum_path(path)
    if checksum.exists():
        expected = checksum.read_text().strip()
        if sha256_of(path) != expected:
            raise CheckpointUnreadable(f"{path}: its SHA-256 differs from {checksum.name} (the file is damaged)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise CheckpointUnreadable(f"{path} cannot be loaded as a checkpoint (damaged, truncated, or holding "
                                   f"more than tensors and plain containers): {err}") from err


def load_latest_checkpoint(folder):
    """(state, path) of the newest good checkpoint of ``folder``: ``last.pt``, or ``previous.pt``
    with a warning when the latest is damaged; CheckpointUnreadable when none loads."""
    problems = []
    for path in checkpoint_paths(folder):
        try:
            state = load_checkpoint(path)
        except CheckpointUnreadable as err:
            problems.append(str(err))
            continue
        if problems:
            warnings.warn(f"{problems[0]}; resuming from the checkpoint before it, {path}", stacklevel=2)
        return state, path
    raise CheckpointUnreadable("no good checkpoint to resume from: " + ("; ".join(problems) or f"none in {folder}")
                               + ". Start the run again in a new --out.")
