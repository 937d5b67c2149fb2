"""The real-layer study behind ``spr-or gaps --layers RUN_DIR``: on the trained convolutions of a
finished pruning run, is the SPR's choice of input channels optimal?

For every convolution whose input channels map one each to the run's entities, read by that layer
alone (spr_or/input_channel_entities.py; the others are listed with the reason), on the dense
reference model:

1. its input on ``calibration_samples`` training samples (forward pre-hooks), unfolded into patches
   (spr_or/layer_calibration.py), and the channel-selection problem of each form
   (mip_models/conv_channel_selection.py: "refit", multi-output least squares on the leading output
   directions; "scale", He et al.'s one scale per channel on all outputs), with the run's alpha;
2. lam chosen so that the penalised optimum keeps as many channels as the SPR kept (k): bisection on
   log lam, each step a "bnb" solve of ``time_limit`` / 10 seconds (mip_models/lam_calibration.py);
3. at that lam: ``solve_mip(problem, "bnb", time_limit)`` (status, proven lower bound, incumbent),
   the perspective and big-M relaxation bounds, and the SPR's channels evaluated exactly (the
   fixed-support QP of mip_models/support_qp.py); the best set known is the best of bnb's incumbent,
   the SPR's set and the perspective relaxation rounded (y > 1/2). Reported: objective (1) and
   reconstruction error of the SPR's set against the best set's, the relative excesses, the Jaccard
   overlap of the two sets, and the error of both sets refitted by least squares on all of the layer's
   outputs (``ChannelSelection.refit_error``: lam-free, so the two forms' sets compare on one scale).

The SPR's set is feasible, so F(SPR) >= best >= optimum >= bnb's bound >= (for a solved relaxation)
the perspective bound >= the big-M bound. Where "bnb" proves optimality, best = optimum; where its
time limit stops it, (F(SPR) - best) / best is a proven lower estimate of how far the SPR's set is
from optimal and (F(SPR) - bound) / bound a proven upper one.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from mip_models.conv_channel_selection import FORMS, M_FACTOR, MAX_FEATURES, MAX_ROWS, conv_channel_selection
from mip_models.lam_calibration import lam_for_kept_groups
from mip_models.mip_result import relative_gap
from mip_models.solve import solve_mip
from mip_models.support_qp import mip_objective, solve_support_qp
from relaxations.solve import solve_relaxation
from spr_core.arguments import check_alpha
from spr_core.errors import InvalidArgument

from ..input_channel_entities import input_channel_entities
from ..layer_calibration import capture_inputs, unfold_patches, why_not_unfoldable
from ..pruning.run_folder import load_finished_run

#: the bisection's steps get this share of the time limit each
STEP_SHARE = 0.1


@dataclass(frozen=True, kw_only=True)
class LayerGapConfig:
    """What ``spr-or gaps --layers`` solves (module docstring); ``alpha`` None takes the run's."""

    run_dir: str
    forms: tuple = ("refit", "scale")
    calibration_samples: int = 256
    max_rows: int = MAX_ROWS
    max_features: int = MAX_FEATURES
    M_factor: float = M_FACTOR
    alpha: float | None = None
    time_limit: float = 20.0
    lam_steps: int = 12
    seed: int = 0

    def __post_init__(self):
        unknown = set(self.forms) - set(FORMS)
        if unknown or not self.forms or len(set(self.forms)) < len(self.forms):
            raise InvalidArgument(f"forms must be distinct forms among {sorted(FORMS)} (at least one); got "
                                  f"{list(self.forms)}")
        if self.alpha is not None:
            check_alpha(self.alpha)
        if not np.isfinite(self.M_factor) or self.M_factor < 1:
            raise InvalidArgument(f"M_factor must be >= 1 (M must bound the trained weights); got {self.M_factor!r}")
        if not self.time_limit > 0:
            raise InvalidArgument(f"time_limit must be > 0 seconds; got {self.time_limit}")
        for name in ("calibration_samples", "max_rows", "max_features", "lam_steps"):
            if getattr(self, name) < 1:
                raise InvalidArgument(f"{name} must be >= 1; got {getattr(self, name)}")


def _relative(value: float, reference: float) -> float:
    """(value - reference) / |reference| (the excess of ``value``; |reference| floored at 1e-12)."""
    return (value - reference) / max(abs(reference), 1e-12)


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|a and b| / |a or b| of two bool supports (1 for two empty ones)."""
    union = int(np.sum(a | b))
    return float(np.sum(a & b)) / union if union else 1.0


def _binds(problem, w: np.ndarray) -> bool:
    """Whether some |w_j| reaches M (the box then constrains the fit)."""
    return bool(np.max(np.abs(w), initial=0.0) >= problem.M * (1 - 1e-9))


def _support_point(problem, support: np.ndarray) -> tuple[float, np.ndarray]:
    """(objective (1), w) of the best w on ``support``: the fixed-support QP (support_qp.py)."""
    w, _ = solve_support_qp(problem, support)
    return mip_objective(problem, w, support), w


def study_selection(selection, spr_channels: list, *, time_limit: float, lam_steps: int) -> dict:
    """Steps 2 and 3 of the module docstring for one ChannelSelection and the SPR's kept channels.

    The best set known is the best of "bnb"'s incumbent, the SPR's set and the perspective relaxation
    rounded (y > 1/2), each evaluated by the fixed-support QP: where "bnb" proves optimality it is
    "bnb"'s (up to its 1e-6 gap); where the time limit stops it, the others may be better."""
    k = len(spr_channels)
    search = lam_for_kept_groups(selection.problem, k, step_time_limit=STEP_SHARE * time_limit, max_steps=lam_steps)
    selection = selection.with_lam(search.lam)
    problem = selection.problem
    with warnings.catch_warnings():  # a binding M is recorded (M_binding) instead
        warnings.filterwarnings("ignore", message="M = .* binds")
        result = solve_mip(problem, "bnb", time_limit=time_limit)
    relaxed = {kind: solve_relaxation(problem, kind, time_limit=time_limit) for kind in ("perspective", "bigm")}
    spr = selection.support(spr_channels)
    spr_objective, w_spr = _support_point(problem, spr)
    candidates = {"bnb": (result.objective, result.y > 0.5, result.w), "spr": (spr_objective, spr, w_spr)}
    if np.all(np.isfinite(relaxed["perspective"].y)):
        rounded = relaxed["perspective"].y > 0.5
        objective, w = _support_point(problem, rounded)
        candidates["perspective rounded"] = (objective, rounded, w)
    found_by = min(candidates, key=lambda name: candidates[name][0])
    best_objective, best, w_best = candidates[found_by]
    scale = selection.target_energy()
    error_spr, error_best = (selection.reconstruction_error(w) / scale for w in (w_spr, w_best))
    all_spr, all_best = (selection.refit_error(s) / selection.energy for s in (spr, best))
    return {
        "channels_in": selection.n_channels, "kernel_size": selection.kernel_size, "rows": selection.n_rows,
        "directions": selection.n_directions, "target_share": 1.0 - selection.tail / selection.energy,
        "lam": problem.lam, "alpha": problem.alpha, "M": problem.M,
        "lam_search": {"kept": search.kept, "steps": search.steps},
        "spr": {"kept": k, "channels": list(map(int, spr_channels)), "objective": spr_objective,
                "reconstruction_error": error_spr, "all_outputs_error": all_spr,
                "M_binding": _binds(problem, w_spr)},
        "best": {"objective": best_objective, "found_by": found_by, "kept": int(best.sum()),
                 "channels": np.flatnonzero(best).tolist(), "gap": relative_gap(best_objective, result.lower_bound),
                 "reconstruction_error": error_best, "all_outputs_error": all_best, "M_binding": _binds(problem, w_best)},
        "bnb": {"status": str(result.status), "objective": result.objective, "lower_bound": result.lower_bound,
                "gap": result.gap, "seconds": result.seconds, "nodes": result.iterations,
                "M_binding": bool(result.M_binding)},
        "bounds": {kind: {"objective": r.objective, "status": str(r.status), "seconds": r.seconds}
                   for kind, r in relaxed.items()},
        "excess": {"objective": _relative(spr_objective, best_objective),
                   "objective_over_bound": _relative(spr_objective, result.lower_bound),
                   "reconstruction_error": _relative(error_spr, error_best)},
        "jaccard": _jaccard(spr, best),
    }


def _calibration_inputs(train, n: int, seed: int) -> torch.Tensor:
    """``n`` training samples (or all), drawn with ``seed``, stacked."""
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n]
    return torch.stack([train[int(i)][0] for i in order])


def run_layer_gaps(config: LayerGapConfig, *, progress: bool = True) -> dict:
    """Run the study of the module docstring on ``config.run_dir``.

    Returns
    -------
    dict
        {"config", "summary" ({"rows", "skipped", "run"}), "instances" (one record per layer and form)},
        ready to be written as JSON.

    Raises
    ------
    MissingInput
        ``config.run_dir`` is not a finished run folder (spr_or/pruning/run_folder.py).
    InvalidArgument
        No convolution of the run can be studied (the message lists each with its reason).
    """
    run = load_finished_run(config.run_dir, argument="--layers")
    modules = dict(run.model.named_modules())
    mapping = input_channel_entities(run.model, run.example, run.layers)
    skipped = []
    for name, channels in mapping.items():
        reason = channels.reason or why_not_unfoldable(modules[name])
        if reason is None and len(channels.kept(run.masks)) in (0, len(channels.entities)):
            reason = (f"the SPR kept {len(channels.kept(run.masks))} of its {len(channels.entities)} input channels: "
                      "the only set of that size")
        if reason is not None:
            skipped.append({"layer": name, "reason": reason})
    layers = [name for name in mapping if name not in {s["layer"] for s in skipped}]
    if not layers:
        reasons = "; ".join(f"{s['layer']}: {s['reason']}" for s in skipped[:6]) + ("; ..." if len(skipped) > 6 else "")
        raise InvalidArgument(f"--layers: no convolution of the run in {run.folder} can be studied (each needs input "
                              "channels that the SPR chose for it alone, some of them kept and some pruned): "
                              + (reasons or "its model has no convolution"))
    alpha = config.alpha if config.alpha is not None else run.config.regularizer.alpha
    captured = capture_inputs(run.model, layers, _calibration_inputs(run.train, config.calibration_samples, config.seed))
    records = []  # (each problem is built with lam = 1; study_selection chooses lam)
    for name, form in tqdm(list(itertools.product(layers, config.forms)), desc="gaps --layers", disable=not progress):
        conv = modules[name]
        selection = conv_channel_selection(conv.weight.detach().double().numpy(),
                                           unfold_patches(conv, captured[name]).double().numpy(), form=form,
                                           lam=1.0, alpha=alpha, M_factor=config.M_factor, max_rows=config.max_rows,
                                           max_features=config.max_features, seed=config.seed)
        records.append({"layer": name, "form": form, "entity_layer": mapping[name].entity_layer,
                        **study_selection(selection, mapping[name].kept(run.masks), time_limit=config.time_limit,
                                          lam_steps=config.lam_steps)})
    facts = {"folder": str(run.folder), "model": run.config.model, "dataset": run.config.data.dataset,
             "entities": run.config.regularizer.entities, "regularizer": run.config.regularizer.kind,
             "run_lam": run.config.regularizer.lam, "run_alpha": run.config.regularizer.alpha}
    return {"config": asdict(config), "summary": {"run": facts, "rows": [_row(r) for r in records], "skipped": skipped},
            "instances": records}


def _row(r: dict) -> dict:
    """The table's columns of one record."""
    return {"layer": r["layer"], "form": r["form"], "channels_in": r["channels_in"], "spr_kept": r["spr"]["kept"],
            "optimal_kept": r["best"]["kept"], "found_by": r["best"]["found_by"], "status": r["bnb"]["status"],
            "gap": r["best"]["gap"], "optimum": r["best"]["objective"],
            "perspective": r["bounds"]["perspective"]["objective"], "bigm": r["bounds"]["bigm"]["objective"],
            "bounds_solved": {kind: b["status"] == "optimal" for kind, b in r["bounds"].items()},
            "spr_objective": r["spr"]["objective"], "excess": r["excess"]["objective"],
            "excess_over_bound": r["excess"]["objective_over_bound"], "error_spr": r["spr"]["reconstruction_error"],
            "error_optimal": r["best"]["reconstruction_error"], "error_excess": r["excess"]["reconstruction_error"],
            "jaccard": r["jaccard"], "all_outputs_spr": r["spr"]["all_outputs_error"],
            "all_outputs_optimal": r["best"]["all_outputs_error"], "directions": r["directions"],
            "target_share": r["target_share"],
            "M_binding": [who for who in ("best", "spr") if r[who]["M_binding"]]}
