"""One candidate's scheduling problem as plain Python data: `Instance`, cut from the vectorised `Problem`.

The CP-SAT model, the scalar reference greedy and bound, the brute-force solver, the checker and the
cache key work on one candidate at a time with plain ints. Keeping that view apart from `problem` lets
them import it without the numpy builders, and keeps `Problem.instance` the only bridge between the two.
`Instance.modes` applies the same dominance rule as `problem.effective_modes`.
"""

from __future__ import annotations

from dataclasses import dataclass

from phaze.schedule.modes import CLASS_LINK, CLASS_TC, CLASS_VC, MODE_INTRA, MODE_SINGLE


@dataclass(frozen=True)
class Instance:
    """One candidate's problem in plain Python (ops in topological order, edges i -> j with i < j)."""

    names: tuple[str, ...]
    op_class: tuple[int, ...]
    edges: tuple[tuple[int, int], ...]
    single: tuple[int, ...]  # ns, UNAVAILABLE = no such mode
    intra: tuple[int, ...]
    n_tc: int
    n_vc: int
    layer: str = ""
    pass_: str = ""

    @property
    def n(self) -> int:
        return len(self.names)

    def raw_duration(self, i: int, mode: int) -> int:
        return self.single[i] if mode == MODE_SINGLE else self.intra[i]

    def modes(self, i: int) -> list[tuple[int, int]]:
        """Non-dominated (mode, duration) pairs of op i, single first (see `effective_modes`)."""
        s, m = self.single[i], self.intra[i]
        if s >= 0 and m >= 0:
            if m == 0 < s:
                return [(MODE_INTRA, 0)]
            if s <= m:
                return [(MODE_SINGLE, s)]
        out = []
        if s >= 0:
            out.append((MODE_SINGLE, s))
        if m >= 0:
            out.append((MODE_INTRA, m))
        return out

    def demand(self, i: int, mode: int, duration: int) -> tuple[int, int, int]:
        """(TC, VC, link) units op i holds in `mode`; a zero-length interval holds nothing."""
        if duration == 0:
            return (0, 0, 0)
        if mode == MODE_INTRA:
            return (self.n_tc, self.n_vc, 0)
        c = self.op_class[i]
        return (int(CLASS_TC[c]), int(CLASS_VC[c]), int(CLASS_LINK[c]))

    def preds(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.names]
        for i, j in self.edges:
            out[j].append(i)
        return out

    def succs(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.names]
        for i, j in self.edges:
            out[i].append(j)
        return out

    def infeasible_reason(self) -> str:
        """Empty if every op has a mode; else names the first op that cannot run at all."""
        for i, name in enumerate(self.names):
            if self.single[i] < 0 and self.intra[i] < 0:
                return f"op {name!r} has no finite duration in either mode"
        return ""
