"""Exact models of the SPR paper: problem definitions (planted instances, layer problems of trained
networks), the exact solvers of (1)-(3) / (4): HiGHS outer approximation, SCIP, enumeration,
branch-and-bound, and the choice of lam for a support size."""

from spr_core.problem import GroupSparseProblem

from .conv_channel_selection import ChannelSelection, conv_channel_selection
from .instances import PlantedInstance, make_group_sparse_instance
from .lam_calibration import lam_for_kept_groups
from .layer_problems import LayerProblem, digits_layer_problem, magnitude_pruned
from .mip_result import MIPResult
from .solve import METHODS, solve_mip

__all__ = ["METHODS", "ChannelSelection", "GroupSparseProblem", "LayerProblem", "MIPResult", "conv_channel_selection",
           "digits_layer_problem", "lam_for_kept_groups", "magnitude_pruned", "PlantedInstance",
           "make_group_sparse_instance", "solve_mip"]
