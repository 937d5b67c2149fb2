"""Exact models of the SPR paper: problem definitions, instance generators and the exact
solvers of (1)-(3) / (4): HiGHS outer approximation, SCIP, enumeration."""

from spr_core.problem import GroupSparseProblem

from .instances import PlantedInstance, make_group_sparse_instance
from .layer_problems import LayerProblem, digits_layer_problem, magnitude_pruned
from .mip_result import MIPResult
from .solve import METHODS, solve_mip

__all__ = ["METHODS", "GroupSparseProblem", "LayerProblem", "MIPResult", "digits_layer_problem", "magnitude_pruned", "PlantedInstance", "make_group_sparse_instance", "solve_mip"]
