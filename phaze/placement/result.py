"""What a placement query returns: a priced `Placement` or an `Infeasible` with a one-line reason.

Infeasibility is a value, never an exception, so one bad strategy cannot abort a search (the original
exited the whole solver when the literature strategy did not fit: docs/phaze-original.md §8 B7).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any


@dataclass(frozen=True)
class Infeasible:
    """No placement: `reason` says which constraint failed and by how much."""

    reason: str

    feasible = False

    def __str__(self) -> str:
        return f"infeasible: {self.reason}"


@dataclass(frozen=True)
class Placement:
    """One priced placement: d replicas of an S-stage pipeline, t devices per stage (DESIGN §7).

    cuts: S+1 layer indices; stage k (0-based here) runs chain layers `[cuts[k], cuts[k+1])`, where layer 0
    is the embedding, 1..L the blocks and L+1 the head. With the interleaved schedule (chunks = v > 1) there
    are S·v + 1 cuts, chunk c runs on device c mod S, and the per-stage tuples hold one entry per device.
    iteration_s = pipeline_s + allreduce_s + optimizer_s is the time per batch (TPB).
    """

    data: int
    pipeline: int
    tensor: int
    cuts: tuple[int, ...]
    microbatches_per_replica: int
    iteration_s: float
    max_load_s: float
    pipeline_s: float
    allreduce_s: float
    optimizer_s: float
    stage_load_s: tuple[float, ...]
    stage_params: tuple[float, ...]
    stage_memory_bytes: tuple[float, ...]
    throughput_samples_s: float
    chunks: int = 1  # model chunks per device: 1 = 1F1B, v > 1 = interleaved 1F1B

    feasible = True

    @property
    def devices_used(self) -> int:
        return self.data * self.pipeline * self.tensor

    @property
    def stage_layers(self) -> tuple[int, ...]:
        """Number of chain layers in each stage (each chunk when interleaved)."""
        return tuple(b - a for a, b in pairwise(self.cuts))

    @property
    def memory_per_device_bytes(self) -> float:
        return max(self.stage_memory_bytes)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cuts"] = list(self.cuts)
        for key in ("stage_load_s", "stage_params", "stage_memory_bytes"):
            out[key] = list(out[key])
        out["stages"] = list(self.stage_layers)
        out["devices_used"] = self.devices_used
        out["memory_per_device_bytes"] = self.memory_per_device_bytes
        return out

    def __str__(self) -> str:
        return (f"d={self.data} S={self.pipeline} t={self.tensor} stages={list(self.stage_layers)} "
                f"TPB={self.iteration_s:.6g}s")
