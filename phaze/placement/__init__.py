"""Placement of a layer chain on N devices: pipeline stages, data and tensor parallelism (DESIGN §7)."""

from phaze.placement.memory import least_memory
from phaze.placement.optimal import best_placement
from phaze.placement.optimizer_bytes import BYTES_PER_PARAM, GRAD_BYTES_PER_PARAM, OPT_BYTES_TOUCHED_PER_PARAM
from phaze.placement.pipeline import evaluate_literature, evaluate_placement, literature_cuts
from phaze.placement.problem import LayerChain, PlacementSpec
from phaze.placement.result import Infeasible, Placement

__all__ = [
    "BYTES_PER_PARAM",
    "GRAD_BYTES_PER_PARAM",
    "OPT_BYTES_TOUCHED_PER_PARAM",
    "Infeasible",
    "LayerChain",
    "Placement",
    "PlacementSpec",
    "best_placement",
    "evaluate_literature",
    "evaluate_placement",
    "least_memory",
    "literature_cuts",
]
