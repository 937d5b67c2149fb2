"""Results files written atomically: to a temporary file in the same folder, then renamed, so an
interrupted run never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path, suffix: str = ".tmp"):
    """Yield a temporary path in ``path``'s folder; on success it replaces ``path`` (os.replace),
    on failure it is removed and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
    os.close(handle)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes_atomically(path, write) -> Path:
    """``write(f)`` into a binary file, fsynced, then renamed onto ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)


def write_text_atomically(path, text: str) -> Path:
    return write_bytes_atomically(path, lambda f: f.write(text.encode()))


def write_json_atomically(path, data) -> Path:
    return write_text_atomically(path, json.dumps(data, indent=2, allow_nan=True) + "\n")


def save_figure_atomically(fig, path) -> Path:
    """A matplotlib figure written through a temporary file in the same folder, then renamed; the
    figure is closed either way (pyplot keeps every open figure alive)."""
    import matplotlib.pyplot as plt  # a figure exists, so matplotlib is loaded already

    try:
        with atomic_path(path, suffix=Path(path).suffix) as tmp:
            fig.savefig(tmp, dpi=130, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)
