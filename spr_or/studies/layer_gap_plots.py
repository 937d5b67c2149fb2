"""The plot of ``spr-or gaps --layers`` (spr_or.studies.layer_gaps): per layer and form, how far the
channels the SPR kept are from the best channel set known and from bnb's proven lower bound.

For one layer and form, with F the objective (1) of the selection problem at the study's lam:

    over the best set    (F(SPR) - F(best)) / F(best)     a proven lower estimate of the SPR's
                                                           distance from the optimum (SPR's set feasible)
    over the bound       (F(SPR) - bound) / bound         a proven upper one (bound: bnb's lower bound)

The true excess of the SPR's set over the optimum lies between the two bars; they coincide (up to
bnb's 1e-6 gap) where bnb proved the optimum. Each group of bars is annotated with the Jaccard overlap
of the SPR's and the best set, the two sets' sizes and bnb's status ("optimal" or "limit": stopped by
the time limit, the best set is then not proven optimal). One panel per form.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from spr_core.errors import InvalidArgument  # noqa: E402

from ..atomic_files import save_figure_atomically  # noqa: E402

#: bnb's statuses as printed on the plot
_STATUS = {"optimal": "optimal", "time_limit": "limit"}


def _bar_values(record) -> dict:
    """The plotted values of one entry of layers.json: an element of ``instances`` (a study record) or
    of ``summary.rows`` (a table row); InvalidArgument naming a missing key."""
    if not isinstance(record, dict):
        raise InvalidArgument(f"records must be dicts (entries of layers.json); got {type(record).__name__}")
    try:
        if "bnb" in record:  # spr_or.studies.layer_gaps.study_selection's record
            return {"layer": str(record["layer"]), "form": str(record["form"]),
                    "over_best": float(record["excess"]["objective"]),
                    "over_bound": float(record["excess"]["objective_over_bound"]),
                    "jaccard": float(record["jaccard"]), "status": str(record["bnb"]["status"]),
                    "k_spr": int(record["spr"]["kept"]), "k_best": int(record["best"]["kept"])}
        return {"layer": str(record["layer"]), "form": str(record["form"]), "over_best": float(record["excess"]),
                "over_bound": float(record["excess_over_bound"]), "jaccard": float(record["jaccard"]),
                "status": str(record["status"]), "k_spr": int(record["spr_kept"]),
                "k_best": int(record["optimal_kept"])}
    except (KeyError, TypeError) as err:
        raise InvalidArgument(f"records must be entries of layers.json ('instances' or 'summary.rows'); one lacks "
                              f"{err}") from err


def plot_layer_gaps(path, records, *, title: str | None = None) -> Path:
    """Draw the plot of the module docstring into ``path`` (a PNG, written atomically).

    Parameters
    ----------
    path : str or Path
    records : list of dict
        The ``instances`` of layers.json (or its ``summary.rows``): one per layer and form.
    title : str, optional
        The figure's title (default: the plot's subject).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InvalidArgument
        ``records`` is empty or an entry is not a record of layers.json.
    """
    if records is None or len(records) == 0:
        raise InvalidArgument("records must hold at least one layer record of layers.json (layer and form); got none")
    values = [_bar_values(r) for r in records]
    forms = list(dict.fromkeys(v["form"] for v in values))
    width = max(7.5, 1.6 * max(sum(v["form"] == f for v in values) for f in forms) + 2.5)
    fig, axes = plt.subplots(len(forms), 1, figsize=(width, 3.4 * len(forms) + 0.8), squeeze=False)
    for ax, form in zip(axes[:, 0], forms):
        rows = [v for v in values if v["form"] == form]
        x = np.arange(len(rows))
        over_best = 100 * np.array([v["over_best"] for v in rows])
        over_bound = 100 * np.array([v["over_bound"] for v in rows])
        ax.bar(x - 0.2, over_best, 0.4, color="tab:blue",
               label="SPR's set over the best set found (proven: the SPR's set is at least this far from optimal)")
        ax.bar(x + 0.2, over_bound, 0.4, color="tab:orange", alpha=0.75,
               label="SPR's set over bnb's lower bound (proven: at most this far)")
        top = float(np.nanmax(np.concatenate([over_best, over_bound, [1.0]])))
        for i, v in enumerate(rows):
            label = (f"Jaccard {v['jaccard']:.2f}\nk {v['k_spr']} SPR / {v['k_best']} best\n"
                     f"bnb: {_STATUS.get(v['status'], v['status'])}")
            ax.text(i, max(over_best[i], over_bound[i]) + 0.02 * top, label, ha="center", va="bottom", fontsize=8,
                    color="k" if v["status"] == "optimal" else "firebrick")
        ax.set_xticks(x, [v["layer"] for v in rows])
        pad = max(0, 3 - len(rows)) / 2  # a layer or two: narrow bars in the middle
        ax.set_xlim(-0.6 - pad, len(rows) - 0.4 + pad)
        ax.set_ylim(min(0.0, float(np.nanmin(np.concatenate([over_best, over_bound])))) * 1.1, 1.45 * top)
        ax.set_ylabel("excess of objective (1), %")
        ax.set_title(f"form {form!r}", fontsize=10)
        ax.axhline(0.0, color="k", lw=0.6)
        ax.grid(axis="y", alpha=0.3)
    axes[-1, 0].set_xlabel("layer")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.suptitle(title or "Channels the SPR kept against the best set found (bnb), per layer", fontsize=11)
    fig.tight_layout(rect=(0, 0.07 * 2 / (len(forms) + 1), 1, 1))
    fig.legend(handles, labels, loc="lower center", fontsize=8, ncol=1, frameon=False)
    return save_figure_atomically(fig, path)


def plot_all_layer_gaps(out_dir, records) -> dict[str, str]:
    """``plot_layer_gaps`` into ``out_dir/layers.png`` (the ``plot_all`` of ``spr-or gaps --layers``);
    returns {"layers": path}."""
    return {"layers": str(plot_layer_gaps(Path(out_dir) / "layers.png", records))}
