"""Reachability in an op DAG as Python-int bitsets: each op's descendants, and whether two ops are ordered.

Separate from `idle.py` because it describes the precedence graph, not a bound: the DAG helpers
(`dag.py`), the basic bound and the plain-Python reference bound use it as much as the idle-capacity
term does, and it needs neither numpy nor networkx.
"""

from __future__ import annotations

from collections.abc import Sequence


def descendants(n: int, edges: Sequence[tuple[int, int]]) -> list[int]:
    """Per op, the bitset of its descendants (edges i -> j with i < j)."""
    desc = [0] * n
    succ: list[list[int]] = [[] for _ in range(n)]
    for i, j in edges:
        succ[int(i)].append(int(j))
    for i in range(n - 1, -1, -1):
        for j in succ[i]:
            desc[i] |= desc[j] | (1 << j)
    return desc


def comparable(desc: list[int], i: int, j: int) -> bool:
    return i == j or bool(desc[i] >> j & 1) or bool(desc[j] >> i & 1)
