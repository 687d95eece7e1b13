"""Hyper-parameters -> operator graphs of each layer kind (embed, block, head)."""

from phaze.model.graphs import LAYER_KINDS, RECOMPUTE_MODES, LayerKind, ModelGraphs, build_model, kind_recompute
from phaze.model.ops import Collective, LayerGraph, Op, OpKind, Pass, Tensor

__all__ = ["LAYER_KINDS", "RECOMPUTE_MODES", "Collective", "LayerGraph", "LayerKind", "ModelGraphs", "Op",
           "OpKind", "Pass", "Tensor", "build_model", "kind_recompute"]
