"""The relaxation-gap study behind ``spr-or gaps``: how close are the big-M and perspective
relaxations to the exact MIP optimum of (1)-(3)?

For every instance of a grid (planted grouped least squares over n, number and size of groups,
correlation, alpha, lam, M) and for layer problems of a digits MLP, it computes the MIP optimum
(each requested exact method, cross-checked), both relaxation bounds, the share of the big-M gap that
the perspective relaxation closes,

    closed = (perspective - bigm) / (optimum - bigm),

how well rounding each relaxation (y_i > 1/2) recovers the MIP support and objective, and solve times.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from tqdm.auto import tqdm

from mip_models.instances import make_group_sparse_instance
from mip_models.layer_problems import digits_layer_problem
from mip_models.solve import METHODS, solve_mip
from mip_models.support_qp import mip_objective, solve_support_qp
from relaxations.solve import solve_relaxation
from spr_core.errors import InvalidArgument
from spr_core.statuses import Status

ENUMERATE_MAX_GROUPS = 10  # enumerate only where it is quick (2^10 QPs)


@dataclass(frozen=True, kw_only=True)
class GapConfig:
    """What ``spr-or gaps`` solves: one synthetic instance per point of the grid over the tuples
    (``grid()``), then digits layer problems for each of ``layer_lams``; every exact method of
    ``methods`` within ``time_limit`` seconds per instance."""

    n: tuple = (100,)
    n_groups: tuple = (8, 12)
    group_size: tuple = (4,)
    correlation: tuple = (0.5,)
    alpha: tuple = (0.01, 0.1, 0.5)
    lam: tuple = (0.05, 0.2)
    M_factor: tuple = (1.0, 2.0, 4.0)
    seeds: tuple = (0,)
    layer_lams: tuple = (0.3, 1.0)
    layer_hidden: int = 12
    methods: tuple = ("highs-oa", "scip", "enumerate")
    time_limit: float = 20.0

    def __post_init__(self):
        unknown = set(self.methods) - set(METHODS)
        if unknown or not self.methods:
            raise InvalidArgument(f"methods must be a non-empty subset of {sorted(METHODS)}; got {list(self.methods)}")
        if not self.time_limit > 0:
            raise InvalidArgument(f"time_limit must be > 0 seconds; got {self.time_limit}")
        for name in ("alpha",):
            if not all(0 < a < 1 for a in getattr(self, name)):
                raise InvalidArgument(f"every alpha must lie in (0, 1); got {self.alpha}")
        if not all(m >= 1 for m in self.M_factor):
            raise InvalidArgument(f"every M_factor must be >= 1 (M must bound the planted weights); got {self.M_factor}")

    def grid(self):
        """Every point of the synthetic grid as a dict (keys as the fields; ``seeds`` one seed)."""
        keys = ("n", "n_groups", "group_size", "correlation", "alpha", "lam", "M_factor", "seeds")
        for values in itertools.product(*(getattr(self, k) for k in keys)):
            yield dict(zip(keys, values))


def _problems(config: GapConfig):
    for point in config.grid():
        instance = make_group_sparse_instance(
            seed=point["seeds"], n=point["n"], group_sizes=[point["group_size"]] * point["n_groups"],
            n_active=max(1, point["n_groups"] // 4), correlation=point["correlation"], noise=1.0,
            lam=point["lam"], alpha=point["alpha"], M_factor=point["M_factor"])
        yield {"kind": "synthetic", **point}, instance.problem
    for lam in config.layer_lams:
        layer = digits_layer_problem(hidden=config.layer_hidden, lam=lam, alpha=0.1)
        yield {"kind": "digits_layer", "n": layer.problem.n_samples, "n_groups": layer.problem.n_groups,
               "group_size": 10, "alpha": 0.1, "lam": lam, "M_factor": 1.5,
               "network_test_accuracy": layer.test_accuracy}, layer.problem


def _rounded(problem, y_relaxed: np.ndarray, optimum: float, support_opt: np.ndarray) -> dict:
    support = y_relaxed > 0.5
    w, _ = solve_support_qp(problem, support)
    value = mip_objective(problem, w, support)
    return {"objective_excess": (value - optimum) / abs(optimum),
            "support_errors": int(np.sum(support != support_opt)),
            "support_exact": bool(np.array_equal(support, support_opt))}


def study_problem(problem, *, methods, time_limit: float) -> dict:
    """Both relaxation bounds, the exact optimum by each of ``methods`` (within ``time_limit``
    seconds each; "enumerate" only up to ENUMERATE_MAX_GROUPS groups), the share of the big-M gap
    the perspective relaxation closes, and how rounding each relaxation does, for one problem."""
    relaxed = {k: solve_relaxation(problem, k) for k in ("bigm", "perspective")}
    exact = {}
    for method in methods:
        if method == "enumerate" and problem.n_groups > ENUMERATE_MAX_GROUPS:
            continue
        with warnings.catch_warnings():  # a binding M is recorded per instance (M_binding) instead
            warnings.filterwarnings("ignore", message="M = .* binds")
            exact[method] = solve_mip(problem, method, time_limit=time_limit)
    proven = [r for r in exact.values() if r.status == Status.OPTIMAL]
    best = min(exact.values(), key=lambda r: r.objective)
    optimum = best.objective
    lower = max(r.lower_bound for r in exact.values())
    support_opt = best.y > 0.5
    bigm, persp = relaxed["bigm"].objective, relaxed["perspective"].objective
    closed = (persp - bigm) / (optimum - bigm) if optimum - bigm > 1e-12 * abs(optimum) else 1.0
    return {
        "optimum": optimum,
        "proven_optimal": bool(proven),
        "best_lower_bound": lower,
        "bounds": {"bigm": bigm, "perspective": persp},
        "relative_gap": {"bigm": (optimum - bigm) / abs(optimum), "perspective": (optimum - persp) / abs(optimum)},
        "gap_closed_by_perspective": closed,
        "rounding": {k: _rounded(problem, r.y, optimum, support_opt) for k, r in relaxed.items()},
        "support_size": int(support_opt.sum()),
        "methods": {m: r.to_dict(with_solution=False) for m, r in exact.items()},
        "M_binding": bool(best.M_binding),
        "methods_agree": bool(all(abs(r.objective - optimum) <= 1e-6 * abs(optimum) for r in proven)),
        "relaxation_seconds": {k: r.seconds for k, r in relaxed.items()},
    }


def run_gap_study(config: GapConfig, *, progress: bool = True) -> dict:
    """Run the whole study (module docstring).

    Parameters
    ----------
    config : GapConfig
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        {"config", "summary" (``summarise_gaps``), "instances" (one record per problem)}, ready to be
        written as JSON.
    """
    records = []
    items = list(_problems(config))
    for point, problem in tqdm(items, desc="gaps: instances", disable=not progress):
        records.append({**point, **study_problem(problem, methods=config.methods, time_limit=config.time_limit)})
    return {"config": asdict(config), "summary": summarise_gaps(records), "instances": records}


def summarise_gaps(records: list[dict]) -> dict:
    """Medians per (alpha, M_factor) of the synthetic instances, per-method solve counts and times,
    whether the methods agree, and the layer problems' gaps."""
    def med(values):
        values = [v for v in values if v is not None and np.isfinite(v)]
        return float(np.median(values)) if values else None

    by_alpha_M = {}
    for r in records:
        if r["kind"] != "synthetic":
            continue
        by_alpha_M.setdefault((r["alpha"], r["M_factor"]), []).append(r)
    table = [
        {"alpha": a, "M_factor": m, "instances": len(rs),
         "median_gap_bigm": med([r["relative_gap"]["bigm"] for r in rs]),
         "median_gap_perspective": med([r["relative_gap"]["perspective"] for r in rs]),
         "median_closed": med([r["gap_closed_by_perspective"] for r in rs]),
         **{f"rounding_{key}_{k}": agg([r["rounding"][k][field] for r in rs])
            for k in ("bigm", "perspective")
            for key, field, agg in (("exact_support", "support_exact", lambda v: float(np.mean(v))),
                                    ("support_errors", "support_errors", lambda v: float(np.mean(v))),
                                    ("excess", "objective_excess", med))}}
        for (a, m), rs in sorted(by_alpha_M.items())
    ]
    methods = sorted({m for r in records for m in r["methods"]})
    timing = {
        m: {"solved": sum(r["methods"][m]["status"] == Status.OPTIMAL for r in records if m in r["methods"]),
            "attempted": sum(m in r["methods"] for r in records),
            "median_seconds": med([r["methods"][m]["seconds"] for r in records if m in r["methods"]])}
        for m in methods
    }
    return {"by_alpha_M": table, "methods": timing,
            "M_binding_instances": sum(r.get("M_binding", False) for r in records),
            "all_methods_agree": bool(all(r["methods_agree"] for r in records)),
            "layers": [{k: r[k] for k in ("lam", "n_groups", "support_size", "gap_closed_by_perspective")}
                       | {"gap_bigm": r["relative_gap"]["bigm"], "gap_perspective": r["relative_gap"]["perspective"]}
                       for r in records if r["kind"] == "digits_layer"]}
