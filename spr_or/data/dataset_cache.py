"""A disk cache for data that is generated rather than downloaded (MNIST-1D), so that a sweep of
a thousand short runs generates it once per machine instead of once per run.

It is joblib's ``Memory`` (scikit-learn's own dependency): results keyed by the function's code
and arguments, written to a temporary file and renamed (two runs generating at once cannot leave a
half-written entry), invalidated when the function's code changes. (The mnist1d package's own ``get_dataset(path=...)``
caches too, but writes its pickle in place, so two runs starting together could read it half-written.)

Where: ``$SPR_OR_CACHE_DIR`` if set (``off`` turns the cache off), else ``$XDG_CACHE_HOME/spr-or``,
else ``~/.cache/spr-or``. A folder that cannot be created turns the cache off with a warning: the
data is then generated each time, as before, and nothing else changes.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

#: the environment variable that moves (or, with ``off``, disables) the cache
CACHE_DIR_VARIABLE = "SPR_OR_CACHE_DIR"


def cache_dir() -> Path | None:
    """The cache folder this process uses, or None when the cache is off."""
    chosen = os.environ.get(CACHE_DIR_VARIABLE)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off") else Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "spr-or"


@functools.lru_cache(maxsize=None)
def _memory(location: str | None):
    import joblib

    if location is not None:
        try:
            Path(location).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            warnings.warn(f"spr-or's data cache {location} cannot be created ({err}); generating data "
                          f"without it (set {CACHE_DIR_VARIABLE} to a writable folder, or to 'off')",
                          stacklevel=3)
            location = None
    return joblib.Memory(location, verbose=0)


def cached(function):
    """``function`` with its results cached in ``cache_dir()`` (called directly when that is None)."""
    location = cache_dir()
    return _memory(None if location is None else str(location)).cache(function)
