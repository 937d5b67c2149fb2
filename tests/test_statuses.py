"""Status constants: equal to the plain strings they replace and written to JSON as those strings,
so results files read the same; a solver's own status text passes through unchanged."""

import json

import numpy as np

from mip_models import MIPResult
from relaxations import RelaxationResult
from spr_core.statuses import Status, solver_status


def test_members_are_their_strings():
    for member, text in [(Status.OPTIMAL, "optimal"), (Status.TIME_LIMIT, "time_limit"),
                         (Status.ITERATION_LIMIT, "iteration_limit"), (Status.NUMERICAL_STALL, "numerical_stall"),
                         (Status.OPTIMAL_INACCURATE, "optimal_inaccurate")]:
        assert member == text and str(member) == text and f"{member}" == text
        assert json.dumps({member: member}, indent=2) == json.dumps({text: text}, indent=2)


def test_solver_text_passes_through_unchanged():
    assert solver_status("optimal") is Status.OPTIMAL
    assert solver_status("optimal_inaccurate") is Status.OPTIMAL_INACCURATE
    assert solver_status("Iteration limit reached") == "Iteration limit reached"  # HiGHS's text
    assert type(solver_status("nodelimit")) is str  # SCIP's, not one of ours


def test_results_serialise_as_before():
    w, y = np.zeros(2), np.ones(1)
    relaxed = RelaxationResult("bigm", objective=1.0, w=w, y=y, status=Status.OPTIMAL, seconds=0.5, solver="highs")
    assert json.dumps(relaxed.to_dict()) == json.dumps({**relaxed.to_dict(), "status": "optimal"})
    exact = MIPResult("scip", objective=1.0, lower_bound=0.5, gap=0.5, w=w, y=y, status=Status.TIME_LIMIT,
                      iterations=3, seconds=1.0)
    assert json.dumps(exact.to_dict(with_solution=False)) == json.dumps(
        {**exact.to_dict(with_solution=False), "status": "time_limit"})
