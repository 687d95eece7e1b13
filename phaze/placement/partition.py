"""Min-max partition of a chain into contiguous stages, for every stage count at once (DESIGN §7).

Suffix dynamic program, level j = number of stages:
    value[0][n] = 0;   value[j][i] = min over e > i of max(cost_j(i, e), value[j-1][e])
where stage `[i, e)` is the j-th stage counted from the END of the pipeline. Counting from the end is what
makes the 1F1B memory rule exact: that stage holds `min(j, ceil(m/d))` micro-batches whatever the total
stage count S, so one run gives the optimum for every S (read `value[S][0]`), and a run for "unlimited"
in-flight (ceil(m/d) >= S) is shared by every data-parallel degree d with ceil(m/d) >= S.
A run for a finite limit q only differs from level q+1 on: it `branch`es from the unlimited one.

Among first stages reaching the optimum, the one whose partition has the smallest largest-stage parameter
sum is kept (`peak`); this is only a tie-break (the optimiser stays exact without it) that lets the
optimiser skip more parameter caps. Each level is one vectorised numpy pass over an (r, r+1) matrix:
O(n³) work for all levels, ~n numpy calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# cost(j, r) -> (r, r+1) matrix of stage costs cost_j(i, e) for i < r, e <= r (inf = forbidden stage)
LevelCost = Callable[[int, int], np.ndarray]


@dataclass
class Ladder:
    """The DP tables level by level (index j = 0..levels), each a length-(n+1) array over suffix starts.

    value[j][i]: smallest worst-stage cost splitting suffix `[i, n)` into j stages (inf: impossible);
    first_end[j][i]: end of the first stage of that split; peak[j][i]: its largest stage parameter sum.
    """

    n: int
    value: list[np.ndarray]
    first_end: list[np.ndarray]
    peak: list[np.ndarray]

    @classmethod
    def start(cls, n: int) -> Ladder:
        empty = np.full(n + 1, np.inf)
        empty[n] = 0.0  # zero stages cover only the empty suffix
        return cls(n, [empty], [np.zeros(n + 1, dtype=np.int64)], [np.zeros(n + 1)])

    @property
    def levels(self) -> int:
        return len(self.value) - 1

    def branch(self, level: int) -> Ladder:
        """A new ladder sharing levels 0..level with this one, to be climbed with a different cost."""
        if level > self.levels:
            raise ValueError(f"cannot branch at level {level}: only {self.levels} levels climbed")
        cut = level + 1
        return Ladder(self.n, self.value[:cut], self.first_end[:cut], self.peak[:cut])

    def climb(self, cost: LevelCost, params: np.ndarray, upto: int) -> None:
        """Add levels up to `upto` (at most n). `params` is the (n, n+1) stage parameter-sum matrix."""
        n = self.n
        for j in range(self.levels + 1, min(upto, n) + 1):
            rows = n - j + 1  # a j-stage suffix starts at i <= n - j; its first stage ends at e <= n - j + 1
            worst = np.maximum(cost(j, rows), self.value[j - 1][None, : rows + 1])
            best = worst.min(axis=1)
            peak = np.maximum(params[:rows, : rows + 1], self.peak[j - 1][None, : rows + 1])
            peak = np.where(worst == best[:, None], peak, np.inf)
            end = peak.argmin(axis=1)
            value = np.full(n + 1, np.inf)
            value[:rows] = best
            top = np.full(n + 1, np.inf)
            top[:rows] = peak[np.arange(rows), end]
            first = np.zeros(n + 1, dtype=np.int64)
            first[:rows] = end
            self.value.append(value)
            self.peak.append(top)
            self.first_end.append(first)

    def best(self, stages: int) -> float:
        return float(self.value[stages][0])

    def cuts(self, stages: int) -> tuple[int, ...]:
        """Stage cuts `(0, e1, ..., n)` of the optimal split of the whole chain into `stages` stages."""
        start, out = 0, [0]
        for j in range(stages, 0, -1):
            start = int(self.first_end[j][start])
            out.append(start)
        return tuple(out)


def heads(ladder: Ladder) -> tuple[np.ndarray, np.ndarray]:
    """(value[j][0], peak[j][0]) for j = 0..levels: the whole chain's optimum per stage count."""
    value = np.array([v[0] for v in ladder.value])
    peak = np.array([p[0] for p in ladder.peak])
    return value, peak
