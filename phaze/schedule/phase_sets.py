"""Set combinatorics of the phase bound on bit masks: the convex sets of an op DAG, and the best total
saving of pairwise disjoint sets.

Kept apart from `phase_bound` because neither depends on durations or cores: the first is a property of
the precedence graph (a set is convex when every *chip* op — one that holds a core for a positive time —
on a path between two members is a member: the op sets a phase of a schedule can hold; collectives, NOPs
and zero-length ops may lie between), the second a small weighted set-packing problem.
"""

from __future__ import annotations

import numpy as np

# Bits of an int64 mask that stay non-negative: the most candidate ops a set can be drawn from.
MAX_MASK_BITS = 63
# Most saving sets packed disjointly by branch and bound, and its node budget; beyond either, the
# fractional bound is used (valid, weaker). Measured on 2 x 200 open llama2_7b / gpt3_175b backward blocks:
# at most 56 sets reach the branch and bound, and a budget of 100 nodes gives the same bounds as no budget;
# branching over up to 4,096 sets (5,000 nodes) closed no more candidates and took up to 250 ms per block.
MAX_BRANCHED_SETS = 64
MAX_NODES = 2000


def convex_sets(desc: list[int], chip: list[int], cands: list[int], limit: int) -> np.ndarray | None:
    """Bit masks (bit k = cands[k]) of every convex set of >= 2 candidates, or None past `limit`.

    `desc` is each op's descendant bitset (`reach.descendants`); `chip` lists the ops (in topological
    order) that may not lie between two members unless they are
    members; `cands` (a subset of `chip`) the ops that may be members; None if more than MAX_MASK_BITS.

    Ops are visited in topological order; leaving out an op that has an ancestor in the set forbids all
    its descendants from joining (they would put it on a path between two members).
    """
    if len(cands) > MAX_MASK_BITS:
        return None
    bit = {op: k for k, op in enumerate(cands)}
    cand_desc = [sum(1 << bit[j] for j in cands if desc[i] >> j & 1) for i in range(len(desc))]
    cand_anc = [sum(1 << bit[j] for j in cands if desc[j] >> i & 1) for i in range(len(desc))]
    masks = np.zeros(1, dtype=np.int64)
    forbid = np.zeros(1, dtype=np.int64)
    for i in chip:
        left_out = np.where(masks & cand_anc[i], forbid | cand_desc[i], forbid)
        if i not in bit:
            forbid = left_out
            continue
        k = bit[i]
        may = (forbid >> k) & 1 == 0
        masks = np.concatenate([masks, masks[may] | (1 << k)])
        forbid = np.concatenate([left_out, forbid[may]])
        if masks.size > limit:
            return None
    return masks[np.bitwise_count(masks) >= 2]


class _OutOfNodes(Exception):
    """The branch and bound of `best_disjoint_saving` used up MAX_NODES."""


def best_disjoint_saving(masks: np.ndarray, savings: np.ndarray) -> int:
    """Largest total saving of pairwise disjoint sets (bit masks), or an upper bound of it.

    Fractional bound: share each set's saving among its members, ceil(saving(S) / |S|) each; disjoint sets
    give every op at most one share, so Σ_op (its largest share) bounds the total. Branch and bound over
    the sets, largest saving first, prunes with that bound over the ops still free; with more than
    MAX_BRANCHED_SETS sets, or past MAX_NODES nodes, the fractional bound is returned instead.
    """
    if not masks.size:
        return 0
    member = [(masks >> k) & 1 == 1 for k in range(int(masks.max()).bit_length())]
    share = -(-savings // np.bitwise_count(masks))
    per_op = [int(share.max(where=m, initial=0)) for m in member]
    if masks.size > MAX_BRANCHED_SETS:
        return sum(per_op)
    sets = sorted(zip(masks.tolist(), savings.tolist(), strict=True), key=lambda x: -x[1])
    suffix = [*np.cumsum([s for _, s in sets][::-1])[::-1].tolist(), 0]
    best, nodes = 0, 0

    def grow(k: int, used: int, total: int) -> None:
        nonlocal best, nodes
        nodes += 1
        if nodes > MAX_NODES:
            raise _OutOfNodes
        best = max(best, total)
        if total + sum(x for b, x in enumerate(per_op) if not used >> b & 1) <= best:
            return
        for j in range(k, len(sets)):
            if total + suffix[j] <= best:
                return
            mask, s = sets[j]
            if not mask & used:
                grow(j + 1, used | mask, total + s)

    try:
        grow(0, 0, 0)
    except _OutOfNodes:
        return sum(per_op)
    return best
