"""Inputs of the placement problem: a chain of layers and the cluster it is placed on (DESIGN §7).

The chain is `[embed, block x L, head]` (n = L + 2 layers) priced for one tensor-parallel width t and one
micro-batch size; every array holds per-device figures (already divided by t where sharded). Keeping the
problem as plain arrays makes the placement code independent of how layers were built and priced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phaze.config.errors import ConfigError
from phaze.placement.optimizer_bytes import BYTES_PER_PARAM, GRAD_BYTES_PER_PARAM, OPT_BYTES_TOUCHED_PER_PARAM


def _layer_array(name: str, values: object, n: int | None) -> np.ndarray:
    arr = np.array(values, dtype=np.float64, copy=True)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"LayerChain.{name} must be a non-empty 1-D array, got shape {arr.shape}")
    if n is not None and arr.size != n:
        raise ValueError(f"LayerChain.{name} has {arr.size} layers, load_s has {n}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"LayerChain.{name} must be finite and >= 0")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class LayerChain:
    """Per-layer costs of one chain, SI units, all float64 arrays of the same length n.

    load_s: forward + backward (+ recompute) seconds of one micro-batch on its t devices, incl. its
        tensor-parallel collectives.
    params: parameters held per device (weights, already / t where sharded).
    act_bytes: bytes one in-flight micro-batch keeps for this layer on each device.
    extra_bytes: bytes counted once when the layer is in a stage (e.g. the head's logits).
    boundary_p2p_s: seconds to send layer i's output to the next stage (the gradient coming back costs
        the same). The last entry is never used.
    shared_params: parameters the last layer holds as a copy of the first layer's (a tied LM head's word
        embedding): a stage holding the whole chain keeps them once.
    """

    load_s: np.ndarray
    params: np.ndarray
    act_bytes: np.ndarray
    extra_bytes: np.ndarray
    boundary_p2p_s: np.ndarray
    shared_params: float = 0.0

    def __post_init__(self) -> None:
        load = _layer_array("load_s", self.load_s, None)
        object.__setattr__(self, "load_s", load)
        for name in ("params", "act_bytes", "extra_bytes", "boundary_p2p_s"):
            object.__setattr__(self, name, _layer_array(name, getattr(self, name), load.size))
        shared = float(self.shared_params)
        if not (np.isfinite(shared) and 0 <= shared <= min(self.params[0], self.params[-1])):
            raise ValueError("LayerChain.shared_params must be finite, >= 0 and at most the first and last layers'")
        object.__setattr__(self, "shared_params", shared)

    @property
    def n(self) -> int:
        return int(self.load_s.size)


def _positive_int(field: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(field, value, "a positive integer")


def _positive_float(field: str, value: float) -> None:
    if not (np.isfinite(value) and value > 0):
        raise ConfigError(field, value, "a finite number > 0")


@dataclass(frozen=True)
class PlacementSpec:
    """Cluster and training scalars of one placement problem (DESIGN §7), SI units.

    devices N, tensor_width t (fixed for the whole problem), microbatches m = G/b per batch,
    microbatch_size b (only used for throughput = G / TPB).
    """

    devices: int
    tensor_width: int
    microbatches: int
    hbm_bytes: float
    hbm_bw_bytes_per_s: float
    dp_link_bw_bytes_per_s: float
    dp_link_latency_s: float = 0.0
    bytes_per_param: float = BYTES_PER_PARAM["adam_mixed"]
    grad_bytes_per_param: float = GRAD_BYTES_PER_PARAM
    opt_bytes_touched_per_param: float = OPT_BYTES_TOUCHED_PER_PARAM["adam_mixed"]
    microbatch_size: int = 1
    # devices per node and the intra-node link: where the data-parallel ring runs (timing.dp_allreduce_bw);
    # the defaults (one device per node) put every data-parallel rank on its own inter-node link
    node_size: int = 1
    tp_link_bw_bytes_per_s: float | None = None

    def __post_init__(self) -> None:
        for field in ("devices", "tensor_width", "microbatches", "microbatch_size", "node_size"):
            _positive_int(field, getattr(self, field))
        for field in ("hbm_bytes", "hbm_bw_bytes_per_s", "dp_link_bw_bytes_per_s"):
            _positive_float(field, getattr(self, field))
        if self.tp_link_bw_bytes_per_s is not None:
            _positive_float("tp_link_bw_bytes_per_s", self.tp_link_bw_bytes_per_s)
        for field in ("dp_link_latency_s", "bytes_per_param", "grad_bytes_per_param",
                      "opt_bytes_touched_per_param"):
            value = getattr(self, field)
            if not (np.isfinite(value) and value >= 0):
                raise ConfigError(field, value, "a finite number >= 0")

    @property
    def intra_node_bw_bytes_per_s(self) -> float:
        return self.dp_link_bw_bytes_per_s if self.tp_link_bw_bytes_per_s is None else self.tp_link_bw_bytes_per_s

    @property
    def global_batch(self) -> int:
        """G = m·b samples per iteration."""
        return self.microbatches * self.microbatch_size

    def microbatches_per_replica(self, data: int) -> int:
        """ceil(m/d): each of the d pipeline replicas processes this many micro-batches per batch."""
        return -(-self.microbatches // data)
