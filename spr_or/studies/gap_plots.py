"""Plots of ``spr-or gaps``: share of the big-M gap closed by the perspective relaxation against
alpha and against M, and proven bounds over time for the exact methods."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..atomic_files import save_figure_atomically  # noqa: E402


def plot_gap_closed(path: Path, records: list[dict]) -> Path:
    """Share of the big-M gap closed by the perspective relaxation against alpha and against
    M_factor (synthetic instances; layer problems starred)."""
    synthetic = [r for r in records if r["kind"] == "synthetic"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, x_key, c_key in [(axes[0], "alpha", "M_factor"), (axes[1], "M_factor", "alpha")]:
        x = np.array([r[x_key] for r in synthetic])
        jitter = np.exp(np.random.default_rng(0).uniform(-0.08, 0.08, x.size))
        points = ax.scatter(x * jitter, [r["gap_closed_by_perspective"] for r in synthetic],
                            c=np.log10([r[c_key] for r in synthetic]), cmap="viridis", s=28)
        fig.colorbar(points, ax=ax, label=f"log10({c_key})")
        ax.set_xscale("log")
        ax.set_xlabel(x_key + ("  (M = M_factor x max|w_planted|)" if x_key == "M_factor" else ""))
        ax.axhline(1.0, color="k", lw=0.6)
        ax.grid(alpha=0.3)
    layers = [r for r in records if r["kind"] == "digits_layer"]
    if layers:
        axes[0].scatter([r["alpha"] for r in layers], [r["gap_closed_by_perspective"] for r in layers],
                        marker="*", s=160, color="r", label="digits layer problems")
        axes[0].legend(loc="lower right")
    axes[0].set_ylabel("share of the big-M gap closed by the perspective relaxation")
    fig.suptitle("(perspective - bigm) / (MIP optimum - bigm)")
    return save_figure_atomically(fig, path)


def plot_bounds_over_time(path: Path, record: dict) -> Path:
    """Lower and upper bounds over time of every exact method on one instance."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    optimum = record["optimum"]
    for method, result in record["methods"].items():
        history = np.array(result["history"], dtype=float)
        if history.size == 0:
            continue
        t = np.maximum(history[:, 0], 1e-3)
        upper, lower = history[:, 2] / optimum, history[:, 1] / optimum
        has_upper = np.isfinite(upper)  # no incumbent yet: nothing to draw
        line, = ax.step(t[has_upper], upper[has_upper], where="post", label=f"{method}: best objective")
        finite = np.isfinite(lower)
        ax.step(t[finite], lower[finite], where="post", ls="--", color=line.get_color(), label=f"{method}: lower bound")
    for name, value in record["bounds"].items():
        ax.axhline(value / optimum, color="gray", lw=0.8, ls=":")
        ax.text(0.01, value / optimum, f"{name} relaxation", va="bottom", fontsize=8, color="gray",
                transform=ax.get_yaxis_transform())
    ax.set_xscale("log")
    ax.set_ylim(min(0.9, 0.98 * min(record["bounds"].values()) / optimum), 1.5)
    ax.set_xlabel("seconds")
    ax.set_ylabel("bound / MIP optimum (clipped at 1.5)")
    ax.set_title(f"bounds over time ({record['kind']}, {record['n_groups']} groups, alpha {record['alpha']}, "
                 f"lam {record['lam']})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure_atomically(fig, path)


def plot_all_gaps(out_dir: Path, records: list[dict]) -> dict[str, str]:
    """Draw every gap plot into ``out_dir`` (bounds over time for the slowest instance); returns {name: path}."""
    out_dir = Path(out_dir)
    hardest = max(records, key=lambda r: max(m["seconds"] for m in r["methods"].values()))
    return {"gap_closed": str(plot_gap_closed(out_dir / "gap_closed.png", records)),
            "bounds_over_time": str(plot_bounds_over_time(out_dir / "bounds_over_time.png", hardest))}
