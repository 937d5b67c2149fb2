"""The statuses a solver result reports (``RelaxationResult.status``, ``MIPResult.status``).

``Status`` is a ``StrEnum``: a member equals its plain string (``Status.OPTIMAL == "optimal"``) and
``json.dumps`` writes it as that string, so results files read the same as before the constants.

A status the toolkit does not interpret is the solver's own text, passed through unchanged by
``solver_status``: the member with that value where there is one (cvxpy's "optimal_inaccurate",
SCIP's "optimal"), else the plain string (HiGHS's model status text such as "Iteration limit reached",
cvxpy's "infeasible", SCIP's "nodelimit"). Such a status is never ``Status.OPTIMAL`` unless the
solver's text is "optimal".
"""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    """What a solve proved. Which solver gives which:

    - ``OPTIMAL``: proven optimal. Exact MIP methods: the relative gap is <= their gap tolerance;
      relaxations: the solver reported optimality (big-M: HiGHS; perspective: cvxpy), or FISTA met
      its stopping test (projected SPR).
    - ``TIME_LIMIT``: an exact method stopped at ``time_limit`` ("highs-oa", "scip", "enumerate");
      ``lower_bound`` and ``gap`` are still valid. A relaxation stopped at its ``time_limit``
      ("bigm", "perspective", "projected_spr"); its result holds the best point it had.
    - ``ITERATION_LIMIT``: the projected SPR ran ``max_iterations`` without meeting its tolerance.
    - ``NUMERICAL_STALL``: "highs-oa"'s master proposed a support it had already visited while the
      gap was above its tolerance (the cuts cannot close it further in floating point).
    - ``NUMERICAL_TROUBLE``: the solver claimed optimality but OUR check disagrees: the objective
      recomputed at its point (``problem.objective``, re-solved on its support) and the solver's own
      proven bound leave a relative gap above the method's tolerance ("scip" on badly scaled data);
      ``lower_bound`` and ``gap`` are the honest ones and a warning names the method and the gap.
    - ``OPTIMAL_INACCURATE``: cvxpy's status when the conic solver stopped near, not at, its
      tolerances (perspective relaxation).
    """

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    NUMERICAL_STALL = "numerical_stall"
    NUMERICAL_TROUBLE = "numerical_trouble"
    OPTIMAL_INACCURATE = "optimal_inaccurate"


class NumericalTroubleWarning(UserWarning):
    """A solver claimed optimality that the toolkit's own check did not confirm
    (``Status.NUMERICAL_TROUBLE``); the message names the method and the gap."""


def solver_status(text) -> Status | str:
    """A solver's own status text, unchanged: the ``Status`` member with that value, or else the
    text as a plain string (see the module docstring)."""
    text = str(text)
    try:
        return Status(text)
    except ValueError:
        return text
