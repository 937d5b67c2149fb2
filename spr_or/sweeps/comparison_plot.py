"""The paired comparison at fixed removal levels as a picture (issue 15, item 4): one panel per
removal level, one row per method, the mean paired difference of TEST accuracy to the reference
method (``frontier_statistics.paired_comparison``) with its bootstrap 95% interval as a bar. A bar
that crosses the zero line is a tie; filled markers are wins or losses (the interval excludes 0)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ..atomic_files import save_figure_atomically
from .frontier_statistics import TOO_FEW

#: marker colours by verdict
COLOURS = {"wins": "tab:green", "loses": "tab:red", "tie": "tab:gray"}


def paired_difference_plot(rows: list[dict], reference: str, levels, path, *, title: str = "") -> None:
    """Draw ``paired_comparison``'s ``rows`` against ``reference`` at ``levels`` into ``path`` (PNG).

    Parameters
    ----------
    rows : list of dict
        ``frontier_statistics.paired_comparison``'s rows (method, level, difference, interval, verdict,
        paired).
    reference : str
        The reference method (left out of the rows drawn: its difference is 0 by definition).
    levels : sequence of float
        The removal levels (%), one panel each.
    path : str or Path
        The PNG to write (atomically).
    title : str
        The figure's title.
    """
    methods = [m for m in dict.fromkeys(r["method"] for r in rows) if m != reference]
    by = {(r["method"], r["level"]): r for r in rows}
    fig, axes = plt.subplots(1, len(levels), figsize=(2.6 * len(levels) + 1.5, 0.42 * len(methods) + 1.6),
                             sharey=True, squeeze=False)
    for ax, level in zip(axes[0], levels):
        for y, method in enumerate(methods):
            row = by.get((method, level))
            if row is None or row["interval"] is None:
                word = "too few seeds" if row is not None and row["verdict"] == TOO_FEW else "not reached"
                ax.text(0.5, y, word, ha="center", va="center", fontsize=7, color="0.5",
                        transform=ax.get_yaxis_transform())
                continue
            low, high = row["interval"]
            colour = COLOURS.get(row["verdict"], "black")
            ax.plot([low, high], [y, y], color=colour, lw=2, solid_capstyle="butt")
            ax.plot(row["difference"], y, "o", color=colour, ms=5,
                    mfc=colour if row["verdict"] != "tie" else "white")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(f"{level:g}% removed", fontsize=9)
        ax.set_xlabel("accuracy - reference (points)", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=7)
    axes[0][0].set_yticks(range(len(methods)), methods)
    axes[0][0].invert_yaxis()
    fig.suptitle(title or f"TEST accuracy paired against {reference}: mean difference and bootstrap 95% interval "
                 "(filled: the interval excludes 0)", fontsize=9)
    fig.tight_layout()
    save_figure_atomically(fig, path)
