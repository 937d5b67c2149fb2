"""Lam calibration of a comparison study (issue 15: every method tuned on the same budget, its lam
grid chosen from a short calibration): for each method of a study config (its points labelled
``method``), short runs over a wide log-spaced range of lam, and the method's grid proposed from
them.

    spr-or calibrate-lam experiments/study2_mnist1d.yaml --out runs/calibrate_mnist1d \\
        --lams 1e-4,1e-3,1e-2,1e-1,1,10,100,1000 --train-epochs 10 --finetune-epochs 0

Each run is the config's ``base`` with the method's point (its ``regularizer.lam``, ``prune.rule``
and ``prune.target`` replaced; the config's ``grid`` and ``seeds`` are not used), one seed
(``--seed``, 0), the shortened schedule of the options, and the method's own pruning rule:
``exact_zeros`` where phase 1 takes the exact prox (``regularizer.proximal: true``), the paper's
``threshold`` otherwise. Per lam it records:

    share      the share of the entities that rule prunes (``filters_pruned / filters_total``); for a
               kind acting on the BatchNorm scales (``bn_slimming``) the share of BatchNorm scales
               with |gamma| < ``batchnorm_tol`` after phase 1 (its weights need not approach 0)
    accuracy   the validation accuracy right after pruning (%; the test accuracy, flagged, where the
               run has no validation split); a run that diverged (NaN loss) counts as collapsed

and ``propose_grid`` turns the measurements into ``size`` (>= 6 by default) log-spaced values from
the largest lam that **prunes nothing** (share < ``share_low``, 1%) to the smallest that
**collapses** (accuracy below ``floor``, by default 1.5 x chance, or share > ``share_high``, 99%);
it is a pure function of the measurements, tested apart from the runs.

Outputs in ``--out``: ``runs/<method>_lam=<lam>/`` (``spr-or prune`` run folders, run by the sweep
runner: resumable, a finished lam is never run again, and the runs share one dense reference),
``calibration.json`` (which run is which method and lam, and the schedule), ``measurements.json``
and ``grids.yaml`` (the proposals), all written atomically.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from spr_core.errors import InvalidArgument

from ..atomic_files import make_results_dir, write_json_atomically, write_text_atomically
from ..batchnorm_scales import BatchNormSlimming
from ..regularizer_kinds import get_kind
from .runner import SweepRunner
from .spec import RunSpec, SweepSpec, load_sweep

CALIBRATION_FILE = "calibration.json"
MEASUREMENTS_FILE = "measurements.json"
GRIDS_FILE = "grids.yaml"
#: the point keys the calibration sets itself
REPLACED_KEYS = ("method", "regularizer.lam", "prune.rule", "prune.target")
#: a floor of this many times chance accuracy marks a collapse (unless ``floor`` is given)
CHANCE_FACTOR = 1.5
DEFAULT_LAMS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
STOPPED = "spr-or prune: stopped:"  # how the command line reports a NonFiniteLoss


@dataclass(frozen=True)
class Measurement:
    """One lam of one method: the share of entities pruned by the method's rule (0 to 1), the
    accuracy (%) after pruning (None where the run diverged), and whether it diverged."""

    lam: float
    share: float | None
    accuracy: float | None
    diverged: bool = False


@dataclass
class GridProposal:
    """A method's proposed lam grid: ``grid`` (None where the measurements cannot bracket one),
    ``low`` (the largest lam that prunes nothing, where the grid starts), ``high`` (the smallest lam
    that collapses, where it ends) and ``notes`` (what the measurements left open)."""

    method: str
    grid: list[float] | None
    low: float | None
    high: float | None
    notes: list[str] = field(default_factory=list)


def collapsed(m: Measurement, floor: float, share_high: float) -> bool:
    """The run diverged, its accuracy is below ``floor``, or it pruned more than ``share_high``."""
    return (m.diverged or (m.accuracy is not None and m.accuracy < floor)
            or (m.share is not None and m.share > share_high))


def prunes(m: Measurement, share_low: float) -> bool:
    """The rule pruned at least ``share_low`` of the entities (a diverged run counts as pruning)."""
    return m.diverged or (m.share is not None and m.share >= share_low)


def log_grid(low: float, high: float, size: int) -> list[float]:
    """``size`` log-spaced values from ``low`` to ``high`` (both included), rounded to 3 significant
    digits where that keeps them distinct."""
    if not (0 < low < high) or size < 2:
        raise InvalidArgument(f"log_grid needs 0 < low < high and size >= 2; got {low!r}, {high!r}, {size!r}")
    exact = [low * (high / low) ** (k / (size - 1)) for k in range(size)]
    exact[0], exact[-1] = low, high
    rounded = [float(f"{v:.3g}") for v in exact]
    return rounded if len(set(rounded)) == size else exact


def acts(m: Measurement, share_low: float, untouched_accuracy: float | None, accuracy_tol: float) -> bool:
    """The penalty has acted at this lam: its rule prunes (``prunes``), or its validation accuracy
    moved more than ``accuracy_tol`` points from ``untouched_accuracy`` (the smallest lam's): a
    subgradient penalty whose own rule never prunes still changes the model, and its matched
    targets rank what it changed."""
    moved = (untouched_accuracy is not None and m.accuracy is not None
             and abs(m.accuracy - untouched_accuracy) > accuracy_tol)
    return prunes(m, share_low) or moved


def propose_grid(measurements, *, floor: float, share_low: float = 0.01, share_high: float = 0.99, size: int = 6,
                 method: str = "", accuracy_tol: float = 1.0) -> GridProposal:
    """The lam grid of one method from its measurements (a pure function: no run here).

    ``high`` is the smallest measured lam from which every larger measured lam collapses (a collapse
    followed by a lam that does not is noted and not taken as the end); ``low`` is the largest
    measured lam below ``high`` such that at it and every smaller lam the penalty has not acted yet
    (``acts``: prunes nothing and leaves the validation accuracy within ``accuracy_tol`` points of
    the smallest lam's; a lam that acts followed by one that does not is noted, and the grid starts
    before it). So a non-monotone
    measurement widens the grid rather than narrowing it. Where no measured lam collapses, the grid
    ends at the largest lam measured; where the smallest already prunes, it starts there (both
    noted: extend the range). Where every lam collapses there is no grid.

    Parameters
    ----------
    measurements : iterable of Measurement
        At least two, with distinct lams > 0.
    floor : float
        Accuracy (%) below which a run has collapsed (e.g. 1.5 x chance).
    share_low, share_high : float
        A share pruned below ``share_low`` is "prunes nothing", above ``share_high`` a collapse.
    size : int
        The number of grid values (>= 2; the study wants >= 6).
    method : str
        The method's name, for the notes.

    Returns
    -------
    GridProposal
    """
    ordered = sorted(measurements, key=lambda m: m.lam)
    if isinstance(size, bool) or not isinstance(size, int) or size < 2:
        raise InvalidArgument(f"size must be an integer >= 2; got {size!r}")
    if not 0 <= share_low < share_high <= 1:
        raise InvalidArgument(f"need 0 <= share_low < share_high <= 1; got {share_low!r}, {share_high!r}")
    lams = [m.lam for m in ordered]
    if len(ordered) < 2 or len(set(lams)) != len(lams) or not all(lam > 0 and math.isfinite(lam) for lam in lams):
        raise InvalidArgument(f"{method or 'propose_grid'}: needs at least two measurements with distinct finite "
                              f"lams > 0; got lams {lams}")
    n, notes = len(ordered), []
    j = n  # ordered[j:] is the trailing run of collapses
    while j > 0 and collapsed(ordered[j - 1], floor, share_high):
        j -= 1
    if j == 0:
        return GridProposal(method, None, None, ordered[0].lam,
                            [f"collapses at every lam measured (from {ordered[0].lam:g}): measure smaller lams"])
    if j == n:
        high = n - 1
        notes.append(f"no collapse up to the largest lam measured ({ordered[-1].lam:g}): the grid ends there; "
                     "measure larger lams to find the collapse")
    else:
        high = j
    early = [m.lam for m in ordered[:j] if collapsed(m, floor, share_high)]
    if early:
        notes.append(f"non-monotone: lam {', '.join(f'{v:g}' for v in early)} collapsed below lams that did not; the "
                     f"grid ends at the last transition ({ordered[high].lam:g})")
    untouched = ordered[0].accuracy
    i = -1  # the penalty has not acted on ordered[:i + 1]
    while i + 1 < high and not acts(ordered[i + 1], share_low, untouched, accuracy_tol):
        i += 1
    if i == -1:
        low = 0
        notes.append(f"prunes already at the smallest lam measured ({ordered[0].lam:g}): the grid starts there; "
                     "measure smaller lams to find where it prunes nothing")
    else:
        low = i
    later = [m.lam for m in ordered[low + 1:high] if not acts(m, share_low, untouched, accuracy_tol)]
    if later and i >= 0:
        notes.append(f"non-monotone: lam {', '.join(f'{v:g}' for v in later)} pruned nothing above a lam that pruned; "
                     f"the grid starts at the first transition ({ordered[low].lam:g})")
    if not any(prunes(m, share_low) and not collapsed(m, floor, share_high) for m in ordered):
        notes.append(f"no lam measured prunes {100 * share_low:g}% or more of the entities without collapsing: with "
                     "its own rule the method prunes nothing before it collapses (its matched targets still rank)")
    return GridProposal(method, log_grid(ordered[low].lam, ordered[high].lam, size), ordered[low].lam,
                        ordered[high].lam, notes)


# ------------------------------------------------------------------------------------------ runs
def method_points(spec: SweepSpec, methods=None) -> dict[str, dict]:
    """{method: its point} for the points of ``spec`` labelled ``method`` (the first point of each
    label: a study lists one point per lam of a method), restricted to ``methods`` if given."""
    points: dict[str, dict] = {}
    for point in spec.points:
        if "method" not in point:
            raise InvalidArgument(f"sweep {spec.name}: calibrate-lam needs points labelled 'method' (a comparison "
                                  f"study); a point has none: {point}")
        points.setdefault(str(point["method"]), point)
    if methods:
        unknown = [m for m in methods if m not in points]
        if unknown:
            raise InvalidArgument(f"--methods: {unknown} are not methods of sweep {spec.name}; its methods are "
                                  f"{list(points)}")
        points = {m: points[m] for m in methods}
    return points


def run_name(method: str, lam: float) -> str:
    """The folder name of one calibration run."""
    return f"{method}_lam={lam:g}".replace("/", "-").replace(" ", "")


@dataclass
class CalibrationSpec(SweepSpec):
    """A sweep of (method, lam) runs, each named ``<method>_lam=<lam>``: ``entries`` lists
    (method, lam, settings) with the settings of the method's run (dotted config keys)."""

    entries: list = field(default_factory=list)

    def runs(self, overrides=(), *, smoke: bool = False) -> list[RunSpec]:
        """One run per entry and seed, its config validated (SweepSpec.runs of a one-point sweep)."""
        out = []
        for method, lam, settings in self.entries:
            single = SweepSpec(self.name, self.base, points=[{**settings, "regularizer.lam": lam}], seeds=self.seeds)
            for run in single.runs(overrides, smoke=smoke):
                out.append(RunSpec(run_name(method, lam), {"method": method, **run.settings}, run.config))
        return out


def _shortened(config: dict, train_epochs, finetune_epochs) -> dict:
    """The schedule settings: the phases' epochs, their milestones kept where still inside."""
    out = {}
    for phase, epochs in (("train", train_epochs), ("finetune", finetune_epochs)):
        if epochs is None:
            continue
        out[f"{phase}.epochs"] = int(epochs)
        out[f"{phase}.milestones"] = [m for m in config[phase]["milestones"] if m < epochs]
    return out


def _method_settings(spec: SweepSpec, point: dict, *, seed: int, train_epochs, finetune_epochs, overrides) -> tuple:
    """(settings of the method's calibration runs, its rule, whether its share is read on the
    BatchNorm scales)."""
    kept = {k: v for k, v in point.items() if k not in REPLACED_KEYS}
    probe = SweepSpec(spec.name, spec.base, points=[kept], seeds=[seed]).runs(overrides)[0].config
    rule = "exact_zeros" if probe["regularizer"]["proximal"] else "threshold"
    on_batchnorm = get_kind(probe["regularizer"]["kind"]).gradient_hook is BatchNormSlimming
    settings = {**kept, **_shortened(probe, train_epochs, finetune_epochs), "prune.rule": rule}
    return settings, rule, on_batchnorm


def batchnorm_share(state_dict_path, tol: float) -> float:
    """The share of BatchNorm scales (a ``<m>.weight`` beside a ``<m>.running_mean``) with |gamma| < tol
    in a saved state_dict."""
    state = torch.load(state_dict_path, map_location="cpu", weights_only=True)
    scales = [v.abs().flatten() for k, v in state.items()
              if k.endswith(".weight") and f"{k[:-len('weight')]}running_mean" in state]
    if not scales:
        raise InvalidArgument(f"{state_dict_path}: no BatchNorm scale in the model")
    values = torch.cat(scales)
    return float((values < tol).float().mean())


def output_width(state_dict_path) -> int:
    """The number of classes of a saved model: the rows of its last weight matrix (the classifier)."""
    state = torch.load(state_dict_path, map_location="cpu", weights_only=True)
    weights = [v for k, v in state.items() if k.endswith("weight") and v.dim() >= 2]
    if not weights:
        raise InvalidArgument(f"{state_dict_path}: no weight matrix to read the number of classes from")
    return int(weights[-1].shape[0])


def measure_run(run_dir, *, on_batchnorm: bool = False, batchnorm_tol: float = 1e-3) -> dict | None:
    """What one finished calibration run measured (None: not finished and not diverged): ``share``,
    ``accuracy`` and the split it is on, ``diverged``, and the run's pruning figures."""
    run_dir = Path(run_dir)
    results_path = run_dir / "results.json"
    if not results_path.is_file():
        log = run_dir / "log.txt"
        if log.is_file() and STOPPED in log.read_text(errors="replace"):
            return {"share": None, "accuracy": None, "split": None, "diverged": True}
        return None
    try:
        results = json.loads(results_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InvalidArgument(f"{results_path}: not readable JSON ({err})") from None
    if on_batchnorm:
        share = batchnorm_share(run_dir / "regularized_model.pt", batchnorm_tol)
    else:
        share = results["filters_pruned"] / max(1, results["filters_total"])
    accuracy, split = results.get("validation_accuracy_after_pruning"), "validation"
    if accuracy is None:
        accuracy, split = results["accuracy_after_pruning"], "test"
    return {"share": share, "accuracy": accuracy, "split": split, "diverged": False,
            "filters_pruned": results["filters_pruned"], "filters_total": results["filters_total"],
            "conv_params_removed_percent": results.get("conv_params_removed_percent"),
            "dense_validation_accuracy": results.get("dense_validation_accuracy")}


def _read_index(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InvalidArgument(f"{path}: not readable JSON ({err}); remove it or use another --out") from None


def calibrate(config_path, out_dir, *, lams=DEFAULT_LAMS, methods=None, train_epochs=None, finetune_epochs=0,
              seed: int = 0, overrides=(), engine: str = "local", workers: int = 1, retries: int = 0,
              floor: float | None = None, share_low: float = 0.01, share_high: float = 0.99, size: int = 6,
              batchnorm_tol: float = 1e-3, show_progress: bool = True) -> dict:
    """Run the calibration of the study ``config_path`` into ``out_dir`` and propose each method's grid.

    Parameters
    ----------
    config_path : str or Path
        A comparison study (experiments/study*.yaml: points labelled ``method``).
    out_dir : str or Path
        The calibration folder (module docstring); a second call adds lams or methods and skips
        the runs done (the same schedule is required).
    lams : sequence of float
        The lams run for every method (> 0).
    methods : sequence of str, optional
        The methods calibrated (default: all of the study's).
    train_epochs, finetune_epochs : int or None
        The shortened phases (None: the config's); milestones past the end are dropped.
    seed : int
        The one seed of the calibration.
    overrides : sequence of str
        ``key=value`` overrides of every run (devices, data folder).
    engine, workers, retries
        As ``spr-or sweep``; no retry by default (a large lam may diverge: that is a measurement).
    floor : float, optional
        Accuracy (%) below which a lam collapses; default 1.5 x chance (100 / classes).
    share_low, share_high, size
        As ``propose_grid``.
    batchnorm_tol : float
        |gamma| below which a BatchNorm scale counts as pruned, for kinds acting on the scales.
    show_progress : bool
        The sweep's progress bar.

    Returns
    -------
    dict
        ``proposals`` ({method: GridProposal}), ``measurements`` ({method: [dict per lam]}), ``floor``,
        ``share_low``, ``share_high`` and ``status`` (the sweep runner's outcomes of this call).
    """
    lams = [float(v) for v in lams]
    if not lams or not all(v > 0 and math.isfinite(v) for v in lams):
        raise InvalidArgument(f"lams must be finite numbers > 0; got {lams}")
    for name, value in (("train_epochs", train_epochs), ("finetune_epochs", finetune_epochs)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise InvalidArgument(f"{name} must be an integer >= 0 or None; got {value!r}")
    if train_epochs == 0:
        raise InvalidArgument("train_epochs must be >= 1: the calibration measures the regularized phase")
    out = make_results_dir(out_dir)
    spec = load_sweep(config_path)
    points = method_points(spec, methods)
    schedule = {"config": str(Path(config_path).resolve()), "seed": seed, "train_epochs": train_epochs,
                "finetune_epochs": finetune_epochs, "overrides": list(overrides), "batchnorm_tol": batchnorm_tol}
    index_path = out / CALIBRATION_FILE
    index = _read_index(index_path) or {"schedule": schedule, "runs": {}}
    if index.get("schedule") != schedule:
        raise InvalidArgument(f"--out: {out} holds a calibration with another schedule ({index.get('schedule')}); "
                              "use another --out for this one")
    entries = []
    for method, point in points.items():
        settings, rule, on_batchnorm = _method_settings(spec, point, seed=seed, train_epochs=train_epochs,
                                                        finetune_epochs=finetune_epochs, overrides=overrides)
        for lam in lams:
            entries.append((method, lam, settings))
            index["runs"][run_name(method, lam)] = {"method": method, "lam": lam, "rule": rule,
                                                     "share_on": "batchnorm scales" if on_batchnorm else "entities"}
    write_json_atomically(index_path, index)  # before the runs: an interrupted call is remembered
    calibration = CalibrationSpec(f"calibrate_{spec.name}", spec.base, seeds=[seed], entries=entries,
                                  description=f"lam calibration of {spec.name}")
    runner = SweepRunner(calibration, out, engine=engine, workers=workers, retries=retries, overrides=overrides,
                         show_progress=show_progress)
    status = runner.run()
    return summarise(out, floor=floor, share_low=share_low, share_high=share_high, size=size) | {"status": status}


def summarise(out_dir, *, floor: float | None = None, share_low: float = 0.01, share_high: float = 0.99,
              size: int = 6) -> dict:
    """Measure every run of the calibration folder ``out_dir`` and write ``measurements.json`` and
    ``grids.yaml``; the same dict as ``calibrate`` (without ``status``)."""
    out = Path(out_dir)
    index = _read_index(out / CALIBRATION_FILE)
    if not index:
        raise InvalidArgument(f"{out}: no {CALIBRATION_FILE}: not a calibration folder")
    tol = index["schedule"].get("batchnorm_tol", 1e-3)
    measured: dict[str, list[dict]] = {}
    classes = None
    for name, info in index["runs"].items():
        record = measure_run(out / "runs" / name, on_batchnorm=info["share_on"] == "batchnorm scales",
                             batchnorm_tol=tol)
        if record is None:
            continue
        measured.setdefault(info["method"], []).append({"lam": info["lam"], "rule": info["rule"],
                                                        "share_on": info["share_on"], **record})
        model = out / "runs" / name / "regularized_model.pt"
        if classes is None and model.is_file():
            classes = output_width(model)
    for rows in measured.values():
        rows.sort(key=lambda r: r["lam"])
    if floor is None:
        floor = CHANCE_FACTOR * 100.0 / classes if classes else 0.0
    proposals = {}
    for method, rows in measured.items():
        found = [Measurement(r["lam"], r["share"], r["accuracy"], r["diverged"]) for r in rows]
        if len(found) < 2:
            proposals[method] = GridProposal(method, None, None, None,
                                             [f"{len(found)} lam measured: needs two or more"])
            continue
        proposals[method] = propose_grid(found, floor=floor, share_low=share_low, share_high=share_high, size=size,
                                         method=method)
        if any(r["split"] == "test" for r in rows):
            proposals[method].notes.append("no validation split: measured on the test split")
    write_json_atomically(out / MEASUREMENTS_FILE, {"floor": floor, "share_low": share_low,
                                                    "share_high": share_high, "methods": measured})
    grids = {"floor": floor, "share_low": share_low, "share_high": share_high, "batchnorm_tol": tol,
             "methods": {m: {"grid": p.grid, "prunes_nothing_up_to": p.low, "collapses_from": p.high, "notes": p.notes,
                             "rule": measured[m][0]["rule"], "share_on": measured[m][0]["share_on"]}
                         for m, p in proposals.items()}}
    write_text_atomically(out / GRIDS_FILE, yaml.safe_dump(grids, sort_keys=False))
    return {"proposals": proposals, "measurements": measured, "floor": floor, "share_low": share_low,
            "share_high": share_high, "batchnorm_tol": tol}


def format_summary(summary: dict) -> str:
    """The measurements and the proposed grids as text (what ``spr-or calibrate-lam`` prints)."""
    lines = [f"collapses: validation accuracy < {summary['floor']:.2f}% (or a NaN loss) or share pruned > "
             f"{100 * summary['share_high']:g}%; prunes nothing: share < {100 * summary['share_low']:g}%"]
    for method, rows in summary["measurements"].items():
        proposal = summary["proposals"][method]
        share = (f"share: BatchNorm scales with |gamma| < {summary['batchnorm_tol']:g}"
                 if rows[0]["share_on"] == "batchnorm scales" else "share: entities pruned")
        lines += ["", f"{method} (rule {rows[0]['rule']}, {share}):",
                  "  lam        share pruned   accuracy (%)"]
        for r in rows:
            if r["diverged"]:
                lines.append(f"  {r['lam']:<10g} diverged (NaN loss)")
            else:
                lines.append(f"  {r['lam']:<10g} {100 * r['share']:>10.1f}%   {r['accuracy']:>8.2f}"
                             + ("  (test)" if r["split"] == "test" else ""))
        grid = "none" if proposal.grid is None else "[" + ", ".join(f"{v:g}" for v in proposal.grid) + "]"
        lines.append(f"  proposed grid: {grid}")
        lines += [f"  note: {note}" for note in proposal.notes]
    return "\n".join(lines)
