"""Plots of ``spr-or validate``: penalty shapes in 1-D and as 2-D contours, and a map of where in
(alpha, ||w||_2) the published closed forms deviate from the exact SPR and by how much."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402

from spr_core.penalties import bigm_from_norms, spr_from_norms  # noqa: E402

from ..atomic_files import save_figure_atomically  # noqa: E402

SHAPE_LABELS = {
    "exact": "SPR exact (projection)",
    "paper": "SPR paper (printed)",
    "paper_code": "SPR public code",
    "l1": "l1",
    "group_lasso": "group lasso",
    "bigm": "big-M relaxation",
}


def penalties_on_grid(W: np.ndarray, alpha: float, M: float) -> dict[str, np.ndarray]:
    """Every compared penalty at each row of W (points, k)."""
    linf, l2 = np.max(np.abs(W), axis=1), np.linalg.norm(W, axis=1)
    values = {v: spr_from_norms(linf, l2, alpha, M, variant=v) for v in ("exact", "paper", "paper_code")}
    values["l1"] = np.abs(W).sum(axis=1)
    values["group_lasso"] = l2
    values["bigm"] = bigm_from_norms(linf, l2, alpha, M)
    return values


def plot_shapes_1d(path: Path, alphas=(0.05, 0.3, 0.7), M: float = 2.0) -> Path:
    """Penalty of a one-weight entity w in [-M, M], one panel per alpha."""
    w = np.linspace(-M, M, 801)
    fig, axes = plt.subplots(1, len(alphas), figsize=(5 * len(alphas), 4), sharey=False)
    for ax, alpha in zip(np.atleast_1d(axes), alphas):
        for name, values in penalties_on_grid(w[:, None], alpha, M).items():
            style = "-" if name == "exact" else "--" if name.startswith("paper") else ":"
            ax.plot(w, values, style, lw=2.2 if name == "exact" else 1.4, label=SHAPE_LABELS[name])
        ax.set_title(f"one weight, alpha = {alpha}, M = {M}")
        ax.set_xlabel("w")
        ax.set_ylim(0, 2.5)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("penalty")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    return save_figure_atomically(fig, path)


def plot_contours_2d(path: Path, alpha: float = 0.3, M: float = 2.0) -> Path:
    """Contours of each penalty for a two-weight entity (w1, w2) in [-M, M]^2."""
    grid = np.linspace(-M, M, 241)
    w1, w2 = np.meshgrid(grid, grid)
    values = penalties_on_grid(np.c_[w1.ravel(), w2.ravel()], alpha, M)
    levels = np.linspace(0.05, 1.5, 10)
    fig, axes = plt.subplots(2, 3, figsize=(13, 8.5))
    for ax, (name, v) in zip(axes.ravel(), values.items()):
        cs = ax.contour(w1, w2, v.reshape(w1.shape), levels=levels, cmap="viridis")
        ax.clabel(cs, fontsize=6, fmt="%.2f")
        ax.set_title(SHAPE_LABELS[name])
        ax.set_aspect("equal")
        ax.set_xlabel("w1")
        ax.set_ylabel("w2")
    fig.suptitle(f"Level sets of the penalties of a two-weight entity (alpha = {alpha}, M = {M})")
    return save_figure_atomically(fig, path)


def deviation_map(alphas: np.ndarray, norms: np.ndarray, direction: np.ndarray, M: float, variant: str) -> np.ndarray:
    """log10(z_variant / z_exact) on the grid (alpha, ||w||_2) for w = ||w||_2 * direction / ||direction||."""
    unit = direction / np.linalg.norm(direction)
    linf = norms * np.max(np.abs(unit))
    out = np.empty((norms.size, alphas.size))
    for j, alpha in enumerate(alphas):
        exact = spr_from_norms(linf, norms, alpha, M, variant="exact")
        out[:, j] = np.log10(spr_from_norms(linf, norms, alpha, M, variant=variant) / exact)
    return out


def plot_deviation_map(path: Path, k: int = 9, M: float = 2.0, seed: int = 0) -> Path:
    """Where the published forms deviate: log10 of their ratio to the exact SPR over alpha and
    ||w||_2, for a random direction of a k-weight entity (k = 9: a 3x3 filter of one input channel),
    with the exact form's regime boundaries c b = a/M and c b = 1 drawn in."""
    direction = np.random.default_rng(seed).standard_normal(k)
    unit = direction / np.linalg.norm(direction)
    b_max = M / np.max(np.abs(unit))  # largest ||w||_2 allowed by ||w||_inf <= M
    alphas = np.logspace(-4, np.log10(0.99), 300)
    norms = np.logspace(-3, np.log10(b_max), 300)
    c = np.sqrt(alphas / (1 - alphas))
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    maps = {v: deviation_map(alphas, norms, direction, M, v) for v in ("paper", "paper_code")}
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-1.0, vmax=1.0)  # clipped at a factor of 10 either way
    for ax, (variant, m) in zip(axes, maps.items()):
        mesh = ax.pcolormesh(alphas, norms, m, cmap="RdBu_r", norm=norm, shading="auto")
        ax.contour(alphas, norms, np.abs(m), levels=[np.log10(1.01)], colors="k", linewidths=0.6)
        ax.plot(alphas, np.minimum(1 / c, b_max), "w-", lw=1.5, label="c b = 1 (y* reaches 1)")
        # c b = a/M  <=>  c = max|unit| / M: a vertical line in alpha
        alpha_box = (np.max(np.abs(unit)) / M) ** 2 / (1 + (np.max(np.abs(unit)) / M) ** 2)
        ax.axvline(alpha_box, color="w", ls="--", lw=1.5, label="c b = a/M (box binds to the left)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("alpha")
        ax.set_title(f"{SHAPE_LABELS[variant]}: log10(z_variant / z_exact)")
    axes[0].set_ylabel("||w||_2  (entity of 9 weights, fixed direction)")
    axes[0].legend(loc="lower left", fontsize=8)
    for ax, (variant, m) in zip(axes, maps.items()):
        ax.text(0.02, 0.98, f"ratio range {10 ** m.min():.3g} .. {10 ** m.max():.3g}", transform=ax.transAxes,
                va="top", fontsize=8, bbox={"facecolor": "white", "alpha": 0.8})
    fig.colorbar(mesh, ax=axes, extend="both", label="log10 ratio (0 = exact; black contour: 1% off)")
    return save_figure_atomically(fig, path)


def plot_relaxation_agreement(path: Path, records: list[dict]) -> Path:
    """Per instance: projected SPR vs perspective optimum (relative difference) and big-M / perspective bound."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    rel = np.maximum([r["projected_vs_perspective"] for r in records], 1e-16)
    axes[0].semilogy(rel, "o")
    axes[0].axhline(1e-6, color="r", ls="--", label="tolerance 1e-6")
    axes[0].set_xlabel("instance")
    axes[0].set_ylabel("|projected SPR - perspective| / perspective")
    axes[0].legend()
    ratio = [r["bigm_over_perspective"] for r in records]
    points = axes[1].scatter([r["alpha"] for r in records], ratio, c=np.log10([r["lam"] for r in records]), cmap="viridis")
    fig.colorbar(points, ax=axes[1], label="log10(lam)")
    axes[1].axhline(1.0, color="k", lw=0.8)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("alpha")
    axes[1].set_ylabel("big-M bound / perspective bound")
    axes[1].set_title("big-M bound / perspective bound (<= 1)")
    axes[0].set_title("projected SPR reaches the perspective optimum")
    return save_figure_atomically(fig, path)


def plot_all(out_dir: Path, records: list[dict]) -> dict[str, str]:
    """Draw every validation plot into ``out_dir``; returns {name: path}."""
    out_dir = Path(out_dir)
    return {
        "shapes_1d": str(plot_shapes_1d(out_dir / "penalty_shapes_1d.png")),
        "contours_2d": str(plot_contours_2d(out_dir / "penalty_contours_2d.png")),
        "deviation_map": str(plot_deviation_map(out_dir / "published_forms_deviation_map.png")),
        "relaxation_agreement": str(plot_relaxation_agreement(out_dir / "relaxation_agreement.png", records)),
    }
