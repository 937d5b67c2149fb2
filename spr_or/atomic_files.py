"""Results files written atomically: to a temporary file in the same folder, then renamed, so an
interrupted run never leaves a half-written file behind.

A results file or folder that cannot be written (a file where a folder should be, no permission, a
full disk) raises ``ResultsNotWritten``: a ``UserError`` (the command line prints its one line) and
an ``OSError`` (library callers that catch OSError keep working), chained from the OS error."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from spr_core.errors import UserError


class ResultsNotWritten(UserError, OSError):
    """A results file or folder could not be written; the message names the path and the OS error."""


@contextlib.contextmanager
def _naming_the_path(path):
    """Turn an OSError raised inside into ``ResultsNotWritten`` naming ``path``."""
    try:
        yield
    except ResultsNotWritten:
        raise
    except OSError as err:
        raise ResultsNotWritten(f"cannot write the results to {path}: {err}") from err


def make_results_dir(path) -> Path:
    """Create the folder ``path`` (and its parents) if needed; ``ResultsNotWritten`` if it cannot be."""
    path = Path(path)
    with _naming_the_path(path):
        path.mkdir(parents=True, exist_ok=True)
    return path


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
    with _naming_the_path(path), atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)


def write_text_atomically(path, text: str) -> Path:
    """``text`` (UTF-8) written atomically to ``path``."""
    return write_bytes_atomically(path, lambda f: f.write(text.encode()))


def write_json_atomically(path, data) -> Path:
    """``data`` as indented JSON (NaN and inf allowed) written atomically to ``path``."""
    return write_text_atomically(path, json.dumps(data, indent=2, allow_nan=True) + "\n")


def save_figure_atomically(fig, path) -> Path:
    """A matplotlib figure written through a temporary file in the same folder, then renamed; the
    figure is closed either way (pyplot keeps every open figure alive)."""
    import matplotlib.pyplot as plt  # a figure exists, so matplotlib is loaded already

    try:
        with _naming_the_path(path), atomic_path(path, suffix=Path(path).suffix) as tmp:
            fig.savefig(tmp, dpi=130, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)
