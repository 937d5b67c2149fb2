"""The validation study behind ``spr-or validate``: on seeded random grouped least-squares
instances, is the closed-form SPR the projection of the perspective relaxation of (4)?

Per instance it solves the three relaxations (big-M QP, perspective SOCP, projected SPR) and
measures:
  * per SPR variant, the relative difference between the closed form z_i(w*) and the relaxation's
    own per-entity term alpha ||w*_i||^2 / y*_i + (1 - alpha) y*_i at the perspective optimum;
  * the paper's printed optimal y against the relaxation's y*;
  * the projected-SPR optimum against the perspective optimum (they must agree);
  * the big-M bound against the perspective bound (it must be lower or equal).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from tqdm.auto import tqdm

from mip_models.instances import make_group_sparse_instance
from relaxations.solve import solve_relaxation
from spr_core.arguments import check_positive_int
from spr_core.errors import InvalidArgument
from spr_core.penalties import SPR_VARIANTS, spr_from_norms
from spr_core.published_forms import paper_printed_y_from_norms

#: an entity with y* at or below this counts as pruned (y* = 0 up to the conic solver's tolerance,
#: about 1e-8); relative differences there are solver noise, so they are reported apart, as
#: absolute differences
PRUNED_Y = 1e-6
#: the big-M bound may exceed the perspective bound by this relative amount (solver tolerance)
#: before it counts as a violation of bigm <= perspective
BOUND_TOL = 1e-7


@dataclass(frozen=True, kw_only=True)
class ValidationConfig:
    """What ``spr-or validate`` draws: ``instances`` problems from ``seed``; alpha log-uniform in
    [alpha_min, alpha_max]; lam log-uniform in [lam_min, lam_max]; M = M_factor * max |w_planted|
    with M_factor uniform in [1, M_factor_max]; sizes uniform in the given ranges."""

    instances: int = 30
    seed: int = 0
    n_min: int = 40
    n_max: int = 200
    groups_min: int = 4
    groups_max: int = 16
    group_size_max: int = 8
    alpha_min: float = 1e-3
    alpha_max: float = 0.9
    lam_min: float = 0.01
    lam_max: float = 3.0
    M_factor_max: float = 3.0

    def __post_init__(self):
        check_positive_int(self.instances, "instances")
        check_positive_int(self.seed, "seed", minimum=0)
        if not 0 < self.alpha_min <= self.alpha_max < 1:
            raise InvalidArgument(f"alpha_min and alpha_max must satisfy 0 < alpha_min <= alpha_max < 1; "
                             f"got {self.alpha_min}, {self.alpha_max}")
        if not 0 < self.lam_min <= self.lam_max <= 1e8:
            raise InvalidArgument(f"lam_min and lam_max must satisfy 0 < lam_min <= lam_max <= 1e8; got {self.lam_min}, {self.lam_max}")
        if not 2 <= self.groups_min <= self.groups_max:
            raise InvalidArgument(f"groups_min and groups_max must satisfy 2 <= groups_min <= groups_max; "
                             f"got {self.groups_min}, {self.groups_max}")
        if not 1 <= self.n_min <= self.n_max:
            raise InvalidArgument(f"n_min and n_max must satisfy 1 <= n_min <= n_max; got {self.n_min}, {self.n_max}")
        check_positive_int(self.group_size_max, "group_size_max")
        if not self.M_factor_max >= 1:
            raise InvalidArgument(f"M_factor_max must be >= 1; got {self.M_factor_max}")


def regime_of(linf, l2, alpha, M) -> np.ndarray:
    """Which regime of the exact form each entity is in: "zero", "box" (y* = a/M),
    "interior" (y* = c b) or "capped" (y* = 1)."""
    linf, l2 = np.asarray(linf, float), np.asarray(l2, float)
    cb = np.sqrt(alpha / (1 - alpha)) * l2
    lower = np.minimum(linf / M, 1.0)
    return np.where(l2 == 0, "zero", np.where(cb <= lower, "box", np.where(cb >= 1, "capped", "interior")))


def draw_instance(config: ValidationConfig, index: int):
    """Instance ``index`` of the study; its parameters come from a generator seeded by (seed, index)."""
    rng = np.random.default_rng([config.seed, index])
    n_groups = int(rng.integers(config.groups_min, config.groups_max + 1))
    sizes = rng.integers(1, config.group_size_max + 1, size=n_groups)
    return make_group_sparse_instance(
        seed=int(rng.integers(2**31)),
        n=int(rng.integers(config.n_min, config.n_max + 1)),
        group_sizes=sizes,
        n_active=int(rng.integers(1, n_groups)),
        correlation=float(rng.uniform(0.0, 0.8)),
        noise=float(rng.uniform(0.1, 1.0)),
        lam=float(np.exp(rng.uniform(np.log(config.lam_min), np.log(config.lam_max)))),
        alpha=float(np.exp(rng.uniform(np.log(config.alpha_min), np.log(config.alpha_max)))),
        M_factor=float(rng.uniform(1.0, config.M_factor_max)),
    )


def study_instance(config: ValidationConfig, index: int) -> dict:
    """Solve the three relaxations of one instance and measure everything listed in the module doc."""
    instance = draw_instance(config, index)
    problem = instance.problem
    results = {kind: solve_relaxation(problem, kind) for kind in ("bigm", "perspective", "projected_spr")}
    persp = results["perspective"]
    linf, l2 = problem.group_norms(persp.w)
    linf = np.minimum(linf, problem.M)  # solver round-off may put |w| a hair above M y <= M
    terms = problem.perspective_terms(persp.w, persp.y)
    active = persp.y > PRUNED_Y
    record = {
        "index": index,
        "n": problem.n_samples,
        "group_sizes": problem.group_sizes.tolist(),
        "lam": problem.lam,
        "alpha": problem.alpha,
        "M": problem.M,
        "objective": {k: r.objective for k, r in results.items()},
        "status": {k: r.status for k, r in results.items()},
        "seconds": {k: r.seconds for k, r in results.items()},
        "projected_vs_perspective": abs(results["projected_spr"].objective - persp.objective) / abs(persp.objective),
        "bigm_over_perspective": results["bigm"].objective / persp.objective,
        "regimes": regime_of(linf, l2, problem.alpha, problem.M)[active].tolist(),
        "variant_rel_diff": {},
        "variant_abs_diff_pruned": {},
    }
    for variant in SPR_VARIANTS:
        z = spr_from_norms(linf, l2, problem.alpha, problem.M, variant=variant)
        record["variant_rel_diff"][variant] = ((z[active] - terms[active]) / terms[active]).tolist()  # signed
        record["variant_abs_diff_pruned"][variant] = np.abs(z[~active] - terms[~active]).tolist()
    printed_y = paper_printed_y_from_norms(linf, l2, problem.alpha, problem.M)
    record["printed_y_rel_diff"] = ((printed_y[active] - persp.y[active]) / persp.y[active]).tolist()
    return record


def _spread(values) -> dict:
    """Median and worst of |values|, and the signed extremes (for a closed form minus the
    relaxation's term: below 0, the form underestimates; above 0, it overestimates)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return {"count": 0, "median": None, "worst": None, "signed_min": None, "signed_max": None}
    magnitude = np.abs(values)
    return {"count": int(values.size), "median": float(np.median(magnitude)), "worst": float(np.max(magnitude)),
            "signed_min": float(np.min(values)), "signed_max": float(np.max(values))}


def summarise(records: list[dict]) -> dict:
    """Worst and median figures over all instances, per variant and per regime."""
    regimes = np.concatenate([np.asarray(r["regimes"], dtype=object) for r in records])
    summary = {"variants": {}, "printed_y": _spread(np.concatenate([r["printed_y_rel_diff"] for r in records]))}
    for variant in SPR_VARIANTS:
        rel = np.concatenate([r["variant_rel_diff"][variant] for r in records])
        pruned = np.concatenate([r["variant_abs_diff_pruned"][variant] for r in records])
        summary["variants"][variant] = {
            "active_entities": _spread(rel),
            "by_regime": {reg: _spread(rel[regimes == reg]) for reg in ("box", "interior", "capped")},
            "pruned_entities_abs": _spread(pruned),
        }
    summary["projected_vs_perspective"] = _spread([r["projected_vs_perspective"] for r in records])
    ratio = np.array([r["bigm_over_perspective"] for r in records])
    summary["bigm_over_perspective"] = {"count": int(ratio.size), "median": float(np.median(ratio)),
                                        "min": float(ratio.min()), "max": float(ratio.max()),
                                        "violations": int(np.sum(ratio > 1 + BOUND_TOL))}
    summary["statuses"] = {
        kind: {s: sum(r["status"][kind] == s for r in records) for s in {r["status"][kind] for r in records}}
        for kind in records[0]["status"]
    }
    summary["median_seconds"] = {kind: float(np.median([r["seconds"][kind] for r in records]))
                                 for kind in records[0]["seconds"]}
    return summary


def run_validation(config: ValidationConfig, *, progress: bool = True) -> dict:
    """Run the whole study (module docstring).

    Parameters
    ----------
    config : ValidationConfig
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        {"config", "summary" (``summarise``), "instances" (``study_instance`` records)}, ready to be
        written as JSON.
    """
    records = [study_instance(config, i)
               for i in tqdm(range(config.instances), desc="validate: instances", disable=not progress)]
    return {"config": asdict(config), "summary": summarise(records), "instances": records}
