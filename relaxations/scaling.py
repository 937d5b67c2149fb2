"""Detection of badly scaled problems, and the checks of a ``time_limit`` argument.

The toolkit does not rescale a problem internally: the box |w_j| <= M y_i and the penalty
alpha ||w||^2 are not invariant under a column scaling of X, so a rescaled problem is a different
problem unless every term is transformed with it. It reports instead: ``scaling_issues`` names the
ratios that make solvers unreliable, and ``warn_if_badly_scaled`` (called once per
``solve_mip`` / ``solve_relaxation``) warns with them. A badly scaled problem's status is still only
``Status.OPTIMAL`` where the result was verified (the exact methods recompute their objective and
gap, mip_models.solve).

The ratios:

- **column norms**: max_j ||X_j|| / min_j ||X_j|| over the non-zero columns of X. Above
  ``BAD_SCALING_RATIO`` the support QPs and the conic/QP solvers work at the edge of double
  precision.
- **M against the data**: M * max_j ||X_j|| / ||t||. A single column fits t with |w_j| <= ||t|| / ||X_j||,
  so this is how much looser the box is than the coefficients the data supports. Above
  ``BAD_SCALING_RATIO`` a y_i within a solver's integrality / feasibility tolerance (about 1e-6) of 0
  still lets w^i reach useful sizes: SCIP then returns a wrong support as "optimal" (X scaled by 1e6),
  and the big-M relaxation's QP runs for minutes (M = 1e12).
- **coefficient scale**: ||t|| / max_j ||X_j||, the size of the coefficients the data supports.
  Outside [1 / ``BAD_COEFFICIENT_SCALE``, ``BAD_COEFFICIENT_SCALE``] the solvers' absolute
  tolerances (about 1e-6) blur the coefficients or the loss swamps the penalty (X scaled by 1e6
  with M scaled with it: the M ratio is fine, SCIP still returns a wrong "optimal").
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from spr_core.errors import InvalidArgument
from spr_core.problem import GroupSparseProblem

#: a ratio above this is reported as bad scaling
BAD_SCALING_RATIO = 1e6
#: a coefficient scale (||t|| / max column norm) above this, or below its inverse, is reported
BAD_COEFFICIENT_SCALE = 1e4


class BadScalingWarning(UserWarning):
    """The problem's data or M are badly scaled (``scaling_issues``); statuses stay honest."""


def scaling_ratios(problem: GroupSparseProblem) -> dict[str, float]:
    """The ratios of the module docstring: {"column_norm_ratio", "M_ratio", "coefficient_scale"}
    (1.0 where undefined: no non-zero column, or t = 0)."""
    norms = np.linalg.norm(problem.X, axis=0)
    nonzero = norms[norms > 0]
    column_ratio = float(nonzero.max() / nonzero.min()) if nonzero.size else 1.0
    t_norm = float(np.linalg.norm(problem.t))
    M_ratio = float(problem.M * nonzero.max() / t_norm) if nonzero.size and t_norm > 0 else 1.0
    scale = float(t_norm / nonzero.max()) if nonzero.size and t_norm > 0 else 1.0
    return {"column_norm_ratio": column_ratio, "M_ratio": M_ratio, "coefficient_scale": scale}


def scaling_issues(problem: GroupSparseProblem, *, threshold: float = BAD_SCALING_RATIO,
                   coefficient_threshold: float = BAD_COEFFICIENT_SCALE) -> list[str]:
    """One sentence per ratio out of range (module docstring); empty when the problem is well scaled."""
    ratios = scaling_ratios(problem)
    issues = []
    if ratios["column_norm_ratio"] > threshold:
        issues.append(f"the largest to smallest non-zero column norm of X is {ratios['column_norm_ratio']:.3g} "
                      f"(> {threshold:.0e}); scale the columns of X")
    if ratios["M_ratio"] > threshold:
        issues.append(f"M * max column norm of X / ||t|| is {ratios['M_ratio']:.3g} (> {threshold:.0e}): M = "
                      f"{problem.M:.3g} is far looser than any coefficient the data supports; lower M or "
                      "rescale X and t")
    scale = ratios["coefficient_scale"]
    if not 1.0 / coefficient_threshold <= scale <= coefficient_threshold:
        issues.append(f"the coefficients the data supports have size about {scale:.3g} (||t|| / max column norm "
                      f"of X, outside [{1 / coefficient_threshold:.0e}, {coefficient_threshold:.0e}]): solvers' "
                      "absolute tolerances blur them; rescale X or t")
    return issues


def warn_if_badly_scaled(problem: GroupSparseProblem, where: str, *, stacklevel: int = 3) -> list[str]:
    """Emit one ``BadScalingWarning`` naming every ratio above the threshold; return the issues."""
    issues = scaling_issues(problem)
    if issues:
        warnings.warn(f"{where}: badly scaled problem: " + "; ".join(issues) + ". Results are verified, and a "
                      "status is 'optimal' only where the check passed", BadScalingWarning, stacklevel=stacklevel)
    return issues


def check_time_limit(time_limit) -> float | None:
    """``time_limit`` must be None (no limit) or a real number of seconds > 0 (finite or inf)."""
    if time_limit is None:
        return None
    if isinstance(time_limit, bool) or not isinstance(time_limit, numbers.Real) or not time_limit > 0:
        raise InvalidArgument(f"time_limit must be None or a number of seconds > 0; got {time_limit!r}")
    return float(time_limit)
