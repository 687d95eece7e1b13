"""Pareto front (throughput up, area down) against brute force, and the Pareto plot file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from phaze.report.plots import pareto_plot
from phaze.search.pareto import pareto_front

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _brute_front(thr: NDArray[np.float64], area: NDArray[np.float64]) -> list[int]:
    """O(C²) definition: i is kept unless some j dominates it, or ties it exactly with a lower index."""
    keep = []
    for i in range(len(thr)):
        if not (np.isfinite(thr[i]) and thr[i] > 0 and np.isfinite(area[i])):
            continue
        beaten = False
        for j in range(len(thr)):
            if j == i or not (np.isfinite(thr[j]) and thr[j] > 0 and np.isfinite(area[j])):
                continue
            no_worse = thr[j] >= thr[i] and area[j] <= area[i]
            better = thr[j] > thr[i] or area[j] < area[i]
            if (no_worse and better) or (thr[j] == thr[i] and area[j] == area[i] and j < i):
                beaten = True
                break
        if not beaten:
            keep.append(i)
    return sorted(keep, key=lambda k: (area[k], k))


@pytest.mark.parametrize("seed", range(8))
def test_front_equals_brute_force_with_ties_and_infeasible(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    thr = rng.integers(0, 15, n).astype(float)  # few distinct values: many exact ties on either axis
    area = rng.integers(1, 15, n).astype(float)
    thr[rng.random(n) < 0.1] = np.inf
    thr[rng.random(n) < 0.05] = np.nan
    area[rng.random(n) < 0.03] = np.nan
    front = pareto_front(thr, area)
    assert front.dtype == np.int64
    assert front.tolist() == _brute_front(thr, area)
    assert np.all(np.diff(area[front]) > 0) and np.all(np.diff(thr[front]) > 0)


def test_front_on_continuous_data_and_a_hand_example() -> None:
    rng = np.random.default_rng(11)
    thr, area = rng.random(500), rng.random(500)
    assert pareto_front(thr, area).tolist() == _brute_front(thr, area)
    # 0: (thr 1, area 1); 1 dominated by 2 (same area, less throughput); 3 ties 2 exactly -> dropped;
    # 4 has 2's throughput at more area -> dominated; 5 infeasible (zero throughput); 6 the best, largest
    thr = np.array([1.0, 2.0, 3.0, 3.0, 3.0, 0.0, 5.0])
    area = np.array([1.0, 2.0, 2.0, 2.0, 4.0, 0.5, 9.0])
    assert pareto_front(thr, area).tolist() == [0, 2, 6]
    assert pareto_front(np.array([np.inf, -1.0]), np.array([1.0, 1.0])).size == 0
    with pytest.raises(ValueError):
        pareto_front(np.ones(3), np.ones(2))


def _demo_data() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    rng = np.random.default_rng(0)
    area = rng.uniform(5.0, 279.0, 3000)
    thr = 40.0 * (area / 279.0) ** 0.8 * rng.beta(2.0, 5.0, 3000)
    thr[rng.random(3000) < 0.2] = np.inf  # infeasible designs are not drawn
    thr[np.isinf(thr)] = np.nan
    return area, thr


def test_plot_writes_a_deterministic_png(tmp_path: Path) -> None:
    area, thr = _demo_data()
    front = pareto_front(thr, area)
    baselines = {"tpuv4_phaze": (278.826676, 21.5), "tpuv4": (278.826676, 17.0), "spotlight": (150.2, 12.3),
                 "a100": (None, 30.0), "h100": (None, None)}
    paths = [pareto_plot(tmp_path / f"sub/p{k}.png", area, thr, front, baselines, "demo: OPT-13B, 64 GiB HBM")
             for k in range(2)]
    data = [p.read_bytes() for p in paths]
    assert data[0][:8] == PNG_MAGIC and len(data[0]) > 10_000
    assert data[0] == data[1]
    assert b"Software" not in data[0]
    empty = pareto_plot(tmp_path / "empty.png", [], [], [], {}, "nothing feasible")
    assert empty.read_bytes()[:8] == PNG_MAGIC
