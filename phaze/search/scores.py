"""A placed design's score under `search.objective`, read from its result.json entry: what ranks a baseline among
the searched designs (MLflow's `rank`), and how many times better the searched best is than a baseline
(`objective_ratio`). The same order as phaze.search.objective.Objective.score, which ranks the search's own pairs;
this module reads finished entries only, so the report and tracking code can use it without the search engine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from phaze.config.search import ENERGY_OBJECTIVES


def entry_score(entry: Mapping[str, Any], objective: str, area_mm2: Any = None) -> float | None:
    """A placed design's score under `objective` from its result.json entry (or a candidates-table row), as
    phaze.search.objective.Objective.score ranks pairs: throughput; throughput over the area (`area_mm2`, else
    the entry's); or samples per joule (the entry's `throughput_per_watt`) for both energy objectives. None if
    the entry has no throughput or lacks the figure."""
    thr = _positive(entry.get("throughput_samples_s"))
    if thr is None:
        return None
    if objective == "throughput_per_mm2":
        area = _positive(area_mm2 if area_mm2 is not None else entry.get("area_mm2"))
        return thr / area if area else None
    if objective in ENERGY_OBJECTIVES:
        return _positive(entry.get("throughput_per_watt"))
    return thr


def _positive(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) and x > 0 else None


def objective_ratio(best: Any, baseline: Any, objective: str) -> float | None:
    """The searched best's score over a baseline's under `search.objective` (`entry_score`):
    how many times better phaze's design is by the measure it was searched for (for `energy_per_token`, the
    baseline's joules per token over the best's). None if either is infeasible or lacks the figure."""
    b = baseline.get("best") if isinstance(baseline, dict) else None
    theirs = entry_score(b, objective, baseline.get("area_mm2")) if isinstance(b, dict) else None
    ours = entry_score(best, objective) if isinstance(best, dict) else None
    return None if ours is None or theirs is None else ours / theirs


__all__ = ["entry_score", "objective_ratio"]
