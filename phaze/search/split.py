"""Stage A split by candidate: price and schedule a range of candidates, then stitch the ranges together.

Every Stage A array is computed row by row (pricing per distinct design, greedy and bound per distinct
problem row), so the rows of a candidate range are the rows the whole space would give, bit for bit: a
range never changes a candidate's arithmetic, only which process does it. `candidate_ranges` cuts the
space; `layer_times` on `acc.take(range)` computes a part; `concat_parts` joins parts back into the
structures of the whole space.

`concat_parts` is structural, so new per-candidate fields need no code here: in a dataclass, a numpy
array whose leading axis has each part's candidate count is per candidate and is concatenated; anything
else must be the same in every part and is kept once (else it raises). The ranges are never all of one
size, so an array of a fixed size (an op list, the DAG's edges) cannot pass for a per-candidate one.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np

from phaze.hardware import Accelerators
from phaze.model import ModelGraphs
from phaze.placement.layer_times import LayerTimes, layer_times

MIN_RANGE = 2  # candidates per range at least, so that two ranges can differ in size


def candidate_ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """[lo, hi) ranges covering 0..n in order, at most `parts` of them, not all of one size."""
    parts = max(1, min(parts, n // MIN_RANGE))
    if parts == 1:
        return [(0, n)]
    sizes = [n // parts + (i < n % parts) for i in range(parts)]
    if n % parts == 0:  # all equal: move one candidate from the last range to the first
        sizes[0] += 1
        sizes[-1] -= 1
    edges = np.cumsum([0, *sizes])
    return [(int(lo), int(hi)) for lo, hi in itertools.pairwise(edges)]


def range_times(graphs: ModelGraphs, acc: Accelerators, lo: int, hi: int) -> dict[str, LayerTimes]:
    """Stage A of one (micro-batch, width) on candidates lo..hi-1 (what one worker computes)."""
    return layer_times(graphs, acc.take(np.arange(lo, hi)))


def concat_parts(parts: list[Any], sizes: list[int]) -> Any:
    """Join per-range results (dataclasses, dicts, arrays) into the whole space's (see module doc)."""
    first = parts[0]
    if len(parts) == 1:
        return first
    if dataclasses.is_dataclass(first) and not isinstance(first, type):
        values = {f.name: concat_parts([getattr(p, f.name) for p in parts], sizes)
                  for f in dataclasses.fields(first) if f.init}
        return type(first)(**values)
    if isinstance(first, dict):
        if any(p.keys() != first.keys() for p in parts):
            raise ValueError("concat_parts: the parts' dict keys differ")
        return {k: concat_parts([p[k] for p in parts], sizes) for k in first}
    if isinstance(first, np.ndarray):
        if all(p.ndim >= 1 and p.shape[0] == n for p, n in zip(parts, sizes, strict=True)):
            return np.concatenate(parts, axis=0)
        if all(p.shape == first.shape and np.array_equal(p, first) for p in parts[1:]):
            return first
        raise ValueError(f"concat_parts: an array of shape {first.shape} is neither per candidate nor shared")
    if any(not _same(p, first) for p in parts[1:]):
        raise ValueError(f"concat_parts: a shared {type(first).__name__} differs between candidate ranges")
    return first


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except ValueError:  # e.g. tuples holding arrays
        return a is b
