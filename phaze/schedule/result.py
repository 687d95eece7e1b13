"""The schedule of one (candidate, layer, pass): makespan, each op's start and mode, and a status.

Statuses (DESIGN §6): `optimal` (greedy met the vectorised or the per-candidate phase bound, or CP-SAT
proved it), `feasible` (a valid
schedule whose optimality is not proven; `gap` says how far from the best bound it may be) and
`infeasible` (some op cannot run at all; `reason` names it, makespan is None).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from phaze.schedule.modes import MODE_NAMES
from phaze.schedule.units import NS_PER_S

OPTIMAL = "optimal"
FEASIBLE = "feasible"
INFEASIBLE = "infeasible"


def relative_gap(makespan_ns: int, bound_ns: int) -> float:
    """MIP convention (as Gurobi's MIPGap): (incumbent − bound) / incumbent; 0 for an empty layer."""
    return 0.0 if makespan_ns <= 0 else max(0, makespan_ns - bound_ns) / makespan_ns


@dataclass(frozen=True)
class Schedule:
    layer: str
    pass_: str
    candidate: int
    status: str  # optimal | feasible | infeasible
    makespan_ns: int | None
    bound_ns: int  # best proven lower bound on the makespan
    starts_ns: tuple[int, ...]  # per op, in graph order; empty when infeasible
    modes: tuple[int, ...]  # per op: MODE_SINGLE (0) or MODE_INTRA (1)
    solver: str  # which method produced the schedule: "greedy" or "cpsat"
    reproducible: bool = True
    reason: str = ""

    @property
    def makespan_s(self) -> float:
        return float("inf") if self.makespan_ns is None else self.makespan_ns / NS_PER_S

    @property
    def gap(self) -> float:
        """0 when optimal; the relative gap to `bound_ns` when feasible; inf when infeasible."""
        if self.makespan_ns is None:
            return float("inf")
        return 0.0 if self.status == OPTIMAL else relative_gap(self.makespan_ns, self.bound_ns)

    @property
    def mode_names(self) -> tuple[str, ...]:
        return tuple(MODE_NAMES[m] for m in self.modes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["starts_ns"] = list(self.starts_ns)
        d["modes"] = list(self.modes)
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Schedule:
        return Schedule(**{**d, "starts_ns": tuple(d["starts_ns"]), "modes": tuple(d["modes"])})
