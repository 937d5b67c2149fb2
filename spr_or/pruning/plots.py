"""Plots of a pruning run: training curves over the three phases, and the per-layer pruning profile
(share of each layer's filters pruned, as the paper counts them, and removed by compaction)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ..atomic_files import save_figure_atomically

PHASE_COLOURS = {"reference": "tab:gray", "train": "tab:blue", "finetune": "tab:green"}


def plot_training_curves(metrics: list[dict], path) -> None:
    """Two panels saved to ``path``: test accuracy (and, dashed, validation accuracy where logged) and
    training loss (and penalty, where logged) per global epoch, one colour per phase, with the
    accuracy right after pruning marked; ``metrics`` are the rows of metrics.jsonl."""
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    for phase, colour in PHASE_COLOURS.items():
        rows = [m for m in metrics if m.get("phase") == phase]
        if not rows:
            continue
        x = [m["global_epoch"] for m in rows]
        ax_acc.plot(x, [m["test_accuracy"] for m in rows], "o-", ms=3, color=colour, label=phase)
        if any(m.get("validation_accuracy") is not None for m in rows):
            ax_acc.plot(x, [m.get("validation_accuracy") if m.get("validation_accuracy") is not None else float("nan")
                            for m in rows], "--", color=colour, alpha=0.7, label=f"{phase}: validation")
        ax_loss.plot(x, [m["train_loss"] for m in rows], "o-", ms=3, color=colour, label=f"{phase}: data loss")
        if any("penalty" in m for m in rows):
            ax_loss.plot(x, [m.get("penalty", float("nan")) for m in rows], "--", color=colour,
                         label=f"{phase}: penalty")
    pruned = [m for m in metrics if m.get("phase") == "prune"]
    for m in pruned:
        ax_acc.plot([m["global_epoch"]], [m["test_accuracy"]], "rx", ms=9, label="right after pruning")
    ax_acc.set(xlabel="epoch (all phases)", ylabel="accuracy (%)", title="Test accuracy (dashed: validation)")
    ax_loss.set(xlabel="epoch (all phases)", ylabel="mean per step", yscale="log", title="Training loss and penalty")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure_atomically(fig, path)


def plot_layer_profile(profile: list[dict], path) -> None:
    """``profile``: per layer (or dependency group) {"layer", "entities", "pruned", "removed"}, and
    "group_type" for groups (named on the axis where it is not a plain convolution)."""
    names = [p["layer"] + (f" ({p['group_type']})" if p.get("group_type", "convolution") != "convolution" else "")
             for p in profile]
    pruned = [100.0 * p["pruned"] / p["entities"] for p in profile]
    removed = [100.0 * p["removed"] / p["entities"] for p in profile]
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(names) + 2), 4))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], pruned, width=0.4, label="pruned (zero entities)")
    ax.bar([x + 0.2 for x in xs], removed, width=0.4, label="physically removed by compaction")
    ax.set_xticks(list(xs), names, rotation=60, ha="right", fontsize=8)
    ax.set(ylabel="% of the entities (filters / channels)", ylim=(0, 105), title="Per-layer pruning profile")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure_atomically(fig, path)
