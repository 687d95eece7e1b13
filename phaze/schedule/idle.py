"""Idle-capacity strengthening of the resource-work bound (used by `bound.py` and `bound_ref.py`).

Why: the work bound `ceil(W_r / K)` of resource r (K units: the tensor cores, or the vector cores)
charges a vector op nothing on the TCs when it may run on one vector core, as if the TCs could stay busy
meanwhile. They cannot, unless enough single-core GEMMs are runnable beside it: while an op v runs on
one core of the *other* resource, no whole-chip interval can overlap it (a whole-chip interval holds
every TC and every VC), so r is used only by single-core ops j that are incomparable with v, one unit
each. On a layer that only pays off on the whole chip, most of r then idles during v's interval; this
term charges that idle capacity.

Bound. Let C be a *chain* of "blockers" (ops whose single-core mode holds a unit of the other chip
resource and none of r; pairwise comparable, so their intervals are disjoint), J the ops whose
single-core mode holds one unit of r, and inc(j, v) that j and v are incomparable. In any schedule
with makespan T, with X ⊆ C the blockers run single-core (l_v) and C \\ X those run whole-chip (L_v):

    K·T >= ∫ u_r  +  ∫ idle_r
        >= W_r + Σ_{v ∉ X} K·L_v + Σ_{v ∈ X} (K·l_v − U_v)

where W_r is the minimum work of the basic bound (it charges each blocker 0 on r, so a whole-chip
blocker's K·L_v is extra) and U_v the r-usage inside v's interval. The usages form a flow: j supplies at
most l_j in total, at most l_v inside v (one unit for at most l_v), v absorbs at most K·l_v, so
Σ_{v ∈ X} U_v <= max-flow <= any cut = Σ_{v ∈ X \\ Y} K·l_v + Σ_j min(l_j, Σ_{v ∈ Y, inc(j,v)} l_v)
for every Y ⊆ X. Hence, with g(Y) = Σ_{v ∈ Y} K·l_v − Σ_j min(l_j, Σ_{v ∈ Y, inc(j, v)} l_v) and
h(X) = max_{Y ⊆ X} g(Y) >= 0,

    K·T >= W_r + min_X ( Σ_{v ∉ X} K·L_v + h(X) )       (X must contain blockers without a chip mode)

which is what `chain_extra` returns the second term of, exactly, over the 2^|C| subsets. Sharing J's
supply across the chain (the min inside g) is what makes it hold when one pool of GEMMs could hide
several short vector ops in turn. In a segment of the segmented bound, C and J are the segment's ops:
the others run outside its window. Every blocker chain gives a valid bound; the maximum is kept.

A user j whose single-core mode also holds a unit of the other resource (a GEMM with a fused epilogue)
supplies nothing when that resource has a single unit: every blocker v holds it while it runs, so j never
runs inside v's interval and its supply to every v is 0 (`chain_extra`'s `no_supply`). On designs with
one vector core this is what makes a GEMM+epilogue useless for hiding a vector op.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np

from phaze.schedule.modes import CLASS_TC, CLASS_VC
from phaze.schedule.reach import comparable

# Longest chain whose 2^k subsets are enumerated; a longer chain is cut into pieces of this many ops
# (each piece is itself a chain, so each gives a valid bound). 2^8 subsets keep the term fast.
MAX_CHAIN_OPS = 8
# Rows whose K·duration sums could approach int64 are left without the term (it is optional).
SAFE_PRODUCT = 2**60


def resource_roles(op_classes: Sequence[int], resource: int) -> tuple[set[int], set[int]]:
    """(classes that block `resource` idle, classes that use it) for resource 0 = TC, 1 = VC."""
    uses, other = (CLASS_TC, CLASS_VC) if resource == 0 else (CLASS_VC, CLASS_TC)
    blockers = {int(c) for c in set(op_classes) if other[c] == 1 and uses[c] == 0}
    users = {int(c) for c in set(op_classes) if uses[c] == 1}
    return blockers, users


def blocker_chains(desc: list[int], blockers: Sequence[int]) -> list[list[int]]:
    """Maximal chains (pairwise comparable sets) of `blockers`, in op order, cut to MAX_CHAIN_OPS."""
    g = nx.Graph()
    g.add_nodes_from(blockers)
    g.add_edges_from((a, b) for k, a in enumerate(blockers) for b in blockers[k + 1:] if comparable(desc, a, b))
    out: set[tuple[int, ...]] = set()
    for clique in nx.find_cliques(g):
        chain = sorted(clique)
        for k in range(0, len(chain), MAX_CHAIN_OPS):
            out.add(tuple(chain[k:k + MAX_CHAIN_OPS]))
    return [list(c) for c in sorted(out)]


def chain_extra(single: np.ndarray, intra: np.ndarray, cap: np.ndarray, chain: list[int], users: list[int],
                desc: list[int], no_supply: np.ndarray | None = None) -> np.ndarray:
    """(C,) `min_X (Σ_{v ∉ X} K·L_v + h(X))` of the module doc, for one blocker chain, all rows at once.

    `single`/`intra` are (C, n) dominance-reduced ns durations (-1 = unavailable), `cap` (C,) = K;
    `no_supply` (C, len(users)) marks users that cannot run beside any blocker (module doc).
    """
    rows, k = single.shape[0], len(chain)
    lv = np.maximum(single[:, chain], 0)
    lj = np.maximum(single[:, users], 0) if users else np.zeros((rows, 0), dtype=np.int64)
    if no_supply is not None:
        lj = np.where(no_supply, 0, lj)
    has_intra = intra[:, chain] >= 0
    capc = cap[:, None]
    biggest = np.maximum(lv.max(axis=1, initial=0), np.maximum(intra[:, chain], 0).max(axis=1, initial=0))
    safe = cap.astype(np.float64) * biggest.astype(np.float64) * (k + 1) < SAFE_PRODUCT
    lv = np.where(safe[:, None], lv, 0)
    lj = np.where(safe[:, None], lj, 0)
    forced = (lv > 0) & ~has_intra  # one-core only: must be in X
    cost = np.where((lv > 0) & has_intra, capc * np.maximum(intra[:, chain], 0), 0)
    inc = np.array([[not comparable(desc, j, v) for v in chain] for j in users], dtype=np.int64).reshape(len(users), k)
    # The subsets are visited in Gray-code order, so each step adds or removes one blocker from the
    # running sums (exact integers: the same values as summing each subset afresh, in O(1) columns).
    h = np.zeros((1 << k, rows), dtype=np.int64)
    supply = np.zeros((rows, len(users)), dtype=np.int64)  # Σ_{v ∈ Y, inc(j, v)} l_v per user j
    total = np.zeros(rows, dtype=np.int64)  # Σ_{v ∈ Y} l_v
    for mask, b, added in _gray_steps(k):
        sign = 1 if added else -1
        supply += sign * lv[:, b, None] * inc[None, :, b]
        total += sign * lv[:, b]
        h[mask] = cap * total - np.minimum(lj, supply).sum(axis=1)
    for b in range(k):  # h(X) = max over subsets Y of X of g(Y)
        with_b = np.array([m for m in range(1 << k) if m >> b & 1], dtype=np.int64)
        h[with_b] = np.maximum(h[with_b], h[with_b ^ (1 << b)])
    cost_out = cost.sum(axis=1)  # Σ_{v ∉ X} K·L_v, X = {} first
    forced_out = forced.sum(axis=1)  # one-core-only blockers left out of X (X must hold them all)
    best = np.where(forced_out == 0, cost_out + h[0], np.iinfo(np.int64).max)
    for mask, b, added in _gray_steps(k):
        sign = -1 if added else 1
        cost_out += sign * cost[:, b]
        forced_out += sign * forced[:, b]
        best = np.where(forced_out == 0, np.minimum(best, cost_out + h[mask]), best)
    return np.where(safe, best, 0)


def _gray_steps(k: int) -> list[tuple[int, int, bool]]:
    """The 2^k − 1 steps of the reflected Gray code from the empty set: (subset mask, the bit that
    changed, whether it was added)."""
    out, prev = [], 0
    for i in range(1, 1 << k):
        mask = i ^ (i >> 1)
        b = (mask ^ prev).bit_length() - 1
        out.append((mask, b, bool(mask >> b & 1)))
        prev = mask
    return out


def holds_other(op_class: int, resource: int) -> bool:
    """Whether an op of this class also holds a unit of the resource other than `resource` on one core."""
    return bool((CLASS_VC if resource == 0 else CLASS_TC)[op_class])


def idle_extra(op_classes: np.ndarray, desc: list[int], ops: list[int], single: np.ndarray, intra: np.ndarray,
               cap: np.ndarray, resource: int, cap_other: np.ndarray) -> np.ndarray:
    """(C,) the idle-capacity work to add to W_r for the op subset `ops`: max over blocker chains.
    `cap_other` (C,) is the other resource's unit count."""
    blocker_cls, user_cls = resource_roles(op_classes.tolist(), resource)
    blockers = [i for i in ops if int(op_classes[i]) in blocker_cls]
    users = [j for j in ops if int(op_classes[j]) in user_cls]
    both = np.array([holds_other(int(op_classes[j]), resource) for j in users], dtype=bool)
    no_supply = both[None, :] & (np.asarray(cap_other)[:, None] < 2)
    out = np.zeros(single.shape[0], dtype=np.int64)
    for chain in blocker_chains(desc, blockers):
        out = np.maximum(out, chain_extra(single, intra, cap, chain, users, desc, no_supply))
    return out
