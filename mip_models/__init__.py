"""Exact models of the SPR paper: problem definitions, instance generators (and, later, the
Pyomo builders of (1)-(3) and (4) with their exact solvers)."""

from .instances import PlantedInstance, make_group_sparse_instance
from .problem import GroupSparseProblem

__all__ = ["GroupSparseProblem", "PlantedInstance", "make_group_sparse_instance"]
