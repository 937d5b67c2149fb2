"""Checks of user-supplied arguments shared by every package.

Each check raises ``InvalidArgument`` (a ``ValueError``) or ``InvalidArgumentType`` (a
``TypeError``) from errors.py, with a message that names the offending argument and states the
allowed range, as ../shared/DESIGN.md asks ("errors that name the offending argument").
"""

from __future__ import annotations

import numbers

import numpy as np

from .errors import InvalidArgument, InvalidArgumentType

#: largest lam accepted: beyond it the regulariser swamps any loss and the QP solvers' scaling breaks
LAM_MAX = 1e8


def _as_real_array(value, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise InvalidArgumentType(f"{name} must be a real number (or an array of real numbers); got {value!r}")
    return arr.astype(float)


def check_alpha(alpha, *, name: str = "alpha"):
    """alpha weighs ||w||^2 against the l0 count in (1); it must lie in the open interval (0, 1)."""
    alpha_arr = _as_real_array(alpha, name)
    if not np.all(np.isfinite(alpha_arr)) or np.any(alpha_arr <= 0.0) or np.any(alpha_arr >= 1.0):
        raise InvalidArgument(f"{name} must lie in the open interval (0, 1); got {alpha!r}")
    return float(alpha_arr) if alpha_arr.ndim == 0 else alpha_arr


def check_big_m(M, *, name: str = "M"):
    """M bounds |w_j| in (2); it must be finite and > 0 (a scalar or an array of such)."""
    m_arr = _as_real_array(M, name)
    if m_arr.size == 0 or not np.all(np.isfinite(m_arr)) or np.any(m_arr <= 0.0):
        raise InvalidArgument(f"{name} must be finite and > 0; got {M!r}")
    return float(m_arr) if m_arr.ndim == 0 else m_arr


def check_lam(lam, *, name: str = "lam"):
    """lambda scales the regulariser in (1); it must be a real number in [0, LAM_MAX]."""
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not np.isfinite(lam) or lam < 0 or lam > LAM_MAX:
        raise InvalidArgument(f"{name} must be a finite real number >= 0 (and <= {LAM_MAX:g}); got {lam!r}")
    return float(lam)


def check_finite_array(x, name: str, *, ndim: int | None = None) -> np.ndarray:
    """Return ``x`` as a float64 array after checking its dimension and that it holds no NaN/inf."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentType(f"{name} must be an array of real numbers; got {type(x).__name__}") from err
    if ndim is not None and arr.ndim != ndim:
        raise InvalidArgument(f"{name} must be {ndim}-dimensional; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidArgument(f"{name} contains NaN or inf; every entry must be finite")
    if arr.size == 0:
        raise InvalidArgument(f"{name} is empty; got shape {arr.shape}")
    return arr


def check_scalar_or_per_entity(value: np.ndarray, n_entities: int, name: str) -> None:
    """A parameter such as M given per entity must be a scalar or hold one value per entity."""
    if np.ndim(value) != 0 and np.shape(value) != (n_entities,):
        raise InvalidArgument(f"{name} must be a scalar or hold one value per entity ({n_entities}); got shape {np.shape(value)}")


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """An integer count such as a number of instances or groups, at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidArgument(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_groups(groups, n_columns: int, *, name: str = "groups") -> list[np.ndarray]:
    """Groups must be non-empty integer index arrays that partition ``range(n_columns)``."""
    if isinstance(groups, np.ndarray) and groups.ndim == 1 and groups.dtype != object:
        raise InvalidArgumentType(f"{name} must be a list of index arrays (one per entity), not a flat array")
    try:
        as_list = [np.asarray(g) for g in groups]
    except TypeError as err:
        raise InvalidArgumentType(f"{name} must be a list of index arrays; got {type(groups).__name__}") from err
    if not as_list:
        raise InvalidArgument(f"{name} must hold at least one group")
    seen = np.zeros(n_columns, dtype=int)
    checked = []
    for i, g in enumerate(as_list):
        if g.ndim != 1:
            raise InvalidArgument(f"{name}[{i}] must be a 1-D array of column indices (one array per group, not a "
                             f"per-column label); got {g!r}")
        if g.size == 0:
            raise InvalidArgument(f"{name}[{i}] is empty; every group needs at least one column")
        if not np.issubdtype(g.dtype, np.integer):
            raise InvalidArgument(f"{name}[{i}] must hold integer column indices; got dtype {g.dtype}")
        if g.min() < 0 or g.max() >= n_columns:
            raise InvalidArgument(
                f"{name}[{i}] holds indices outside the allowed range [0, {n_columns - 1}] of X's columns"
            )
        np.add.at(seen, g, 1)
        checked.append(g.astype(np.intp))
    if np.any(seen > 1):
        raise InvalidArgument(
            f"{name} do not partition the columns: column(s) {np.flatnonzero(seen > 1)[:10].tolist()} "
            "appear in more than one group (or twice in one)"
        )
    if np.any(seen == 0):
        raise InvalidArgument(
            f"{name} do not partition the columns: column(s) {np.flatnonzero(seen == 0)[:10].tolist()} "
            "belong to no group"
        )
    return checked
