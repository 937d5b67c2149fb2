"""The end of a pruning run: compaction, the equivalence check, export, accounting and plots; the
results that the pipeline writes to ``results.json`` (rank 0 only)."""

from __future__ import annotations

import copy

import torch
from torch.utils.data import DataLoader

from . import accounting
from .checkpoint import save_atomically, sha256_of
from .compaction import compact_model, export_model, max_output_difference
from .group_compaction import RELATIVE_TOLERANCE, CompactionNotExact, compact_groups
from .masks import paper_pruned_parameters, per_layer_profile
from .plots import plot_layer_profile, plot_training_curves


def _percent(part, whole):
    return 100.0 * part / whole if whole else 0.0


def write_report(out, config, model, layers, state, test_set, example, *, seconds: float) -> dict:
    """Compact the pruned model, check it, export it, count it, plot the run; return the results.

    Parameters
    ----------
    out : Path
        The run folder: masked_model.pt, compact_model.pt2 (``report.export``) and plots/
        (``report.plots``) are written there.
    config : PruneConfig
        The run's config.
    model : nn.Module
        The trained model with its pruned entities at zero (masked).
    layers : list of LayerEntities
        The partition that the masks index.
    state : RunState
        The run's state (masks, metrics, accuracies, M).
    test_set : Dataset
        The test split: the compact model's outputs are compared with the masked model's on it.
    example : torch.Tensor
        One input batch (for tracing, FLOPs and latency).
    seconds : float
        The run's wall-clock time so far.

    Returns
    -------
    dict
        What results.json holds (docs/pruning.md), without the pipeline's run facts.
    """
    masked = copy.deepcopy(model).cpu().float().eval()
    masked = masked.to(memory_format=torch.contiguous_format)
    masks = state.masks
    save_atomically(masked.state_dict(), out / "masked_model.pt")

    example = example.cpu().float()
    groups = bool(layers) and layers[0].kind == "groups"
    if groups:  # exact or refused (group_compaction.py)
        compact, compaction = compact_groups(masked, layers, masks, example)
    else:
        compact, compaction = compact_model(masked, masks, example)
    test_inputs = (x for x, _ in DataLoader(test_set, batch_size=config.data.test_batch_size))
    max_diff = max_output_difference(masked, compact, test_inputs)
    if groups:
        with torch.no_grad():
            scale = float(masked(example).abs().max())
        if max_diff > RELATIVE_TOLERANCE * max(scale, 1e-12):
            raise CompactionNotExact(f"compaction refused: on the test split the compact model's outputs differ "
                                     f"from the masked model's by {max_diff:.3g} (output scale {scale:.3g}); "
                                     "no compact model was written")
    compact_path = export_model(compact, example, out / "compact_model.pt2") if config.report.export else None

    params_total = accounting.count_parameters(masked)
    params_after = accounting.count_parameters(compact)
    conv_total = accounting.count_conv_parameters(masked)
    conv_after = accounting.count_conv_parameters(compact)
    pruned_paper = paper_pruned_parameters(layers, masks)
    flops_before = accounting.count_flops(masked, example)
    flops_after = accounting.count_flops(compact, example)
    latency = accounting.latency_table(masked, compact, example, config.report.latency_batch_sizes,
                                       config.report.latency_repeats)

    profile = per_layer_profile(layers, masks)
    for row in profile:
        row["removed"] = len(compaction.removed.get(row["layer"], []))
    if config.report.plots:
        plot_training_curves(state.metrics, out / "plots" / "training_curves.png")
        plot_layer_profile(profile, out / "plots" / "layer_profile.png")

    by_type: dict = {}
    for layer in layers:
        row = by_type.setdefault(layer.group_type or "filters", {"entities": 0, "pruned": 0, "removed": 0})
        row["entities"] += layer.n_entities
        row["pruned"] += int(masks[layer.name].sum())
        row["removed"] += len(compaction.removed.get(layer.name, []))
    for row in by_type.values():
        row["removed_share"] = row["removed"] / row["entities"] if row["entities"] else 0.0

    dense = state.dense_accuracy
    # the final model is the last epoch's (nothing is selected by either accuracy)
    final = state.metrics[-1]["test_accuracy"]
    results = {
        "model": config.model, "dataset": config.data.dataset, "seed": config.seed,
        "regularizer": config.regularizer.kind, "variant": config.regularizer.variant,
        "lam": config.regularizer.lam, "alpha": config.regularizer.alpha,
        "dense_accuracy": dense, "accuracy_after_pruning": state.accuracy_after_pruning,
        "final_accuracy": final, "accuracy_drop": (dense - final) if dense is not None else None,
        # the same on the validation split (held-out training examples; None where none are held out):
        # what model selection reads (spr-or report), the test accuracies being only reported
        "dense_validation_accuracy": state.dense_validation_accuracy,
        "validation_accuracy_after_pruning": state.validation_accuracy_after_pruning,
        "final_validation_accuracy": state.metrics[-1].get("validation_accuracy"),
        "params_total": params_total,
        "params_pruned_paper": pruned_paper, "params_pruned_paper_percent": _percent(pruned_paper, params_total),
        "params_after_compaction": params_after,
        "params_removed_percent": _percent(params_total - params_after, params_total),
        "conv_params_total": conv_total, "conv_params_after_compaction": conv_after,
        "conv_params_removed_percent": _percent(conv_total - conv_after, conv_total),
        "filters_total": sum(len(m) for m in masks.values()),
        "filters_pruned": sum(int(m.sum()) for m in masks.values()),
        # after phase 1, before the pruning rule: what the prox (or anything) set exactly to 0
        "filters_exactly_zero_before_pruning": state.filters_exactly_zero,
        "flops_before": flops_before, "flops_after": flops_after,
        "flops_removed_percent": _percent(flops_before - flops_after, flops_before),
        "latency_cpu": latency,
        "max_abs_output_diff": max_diff,
        # None with report.export: false (the compact model was built and checked, not written)
        "compact_model": str(compact_path) if compact_path else None,
        "compact_model_sha256": sha256_of(compact_path) if compact_path else None,
        "compaction_kept": compaction.kept,
        "entities": config.regularizer.entities,
        "removed_by_group_type": by_type,
        "per_layer": profile,
        "M": state.M,
        "seconds": seconds,
    }
    return results
