"""The vectorised greedy event loop on one block of candidates (`greedy_block_rows`), and the candidate-independent
DAG arrays it runs on (`greedy_graph`).

This is the hot kernel of `greedy`, which drives it (dominance, priorities, blocking, policies, result);
kept apart so its array bookkeeping can be read, profiled and tuned on its own. The rule it implements
is stated in `greedy_ref.greedy_instance`, and the tests require both to agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phaze.schedule.modes import CLASS_LINK, CLASS_TC, CLASS_VC
from phaze.schedule.problem import Problem

_BIG = np.iinfo(np.int64).max
_SMALL = np.iinfo(np.int64).min


@dataclass(frozen=True)
class _Graph:
    """Candidate-independent arrays of the DAG and its resource classes."""

    adj: np.ndarray  # (n, n) float32 edge counts i -> j (float so completions update by BLAS matmul)
    adj_unit: np.ndarray  # (n, n + 3) float32: [adj | single-core (TC, VC, link) demand]
    indeg: np.ndarray  # (n,) int32
    unit: np.ndarray  # (n, 3) int64 single-core (TC, VC, link) demand
    fit_table: np.ndarray  # (8, n) bool: single-core demand fits, per free-state code tc|vc<<1|link<<2


def greedy_graph(problem: Problem) -> _Graph:
    n, cls = problem.n_ops, problem.op_class
    adj = np.zeros((n, n), dtype=np.float32)
    for i, j in problem.edges:
        adj[i, j] += 1.0
    unit = np.stack([CLASS_TC[cls], CLASS_VC[cls], CLASS_LINK[cls]], axis=1)
    code = np.arange(8)[:, None]
    fit = ((unit[None, :, 0] == 0) | (code & 1 > 0)) & ((unit[None, :, 1] == 0) | (code & 2 > 0))
    fit &= (unit[None, :, 2] == 0) | (code & 4 > 0)
    adj_unit = np.concatenate([adj, unit.astype(np.float32)], axis=1)
    return _Graph(adj, adj_unit, adj.sum(axis=0).astype(np.int32), unit, fit)


def frugal_ops(g: _Graph, single: np.ndarray, intra: np.ndarray, n_tc: np.ndarray, n_vc: np.ndarray) -> np.ndarray:
    """(rows, n) bool: ops with both modes, neither zero-length, whose one-core work is no larger than
    their whole-chip work, ceil(l / n) <= L (greedy_ref docstring). The spread policy differs from the
    plain one only where it declines a frugal op's whole-chip mode, so a row with none runs alike."""
    cores = np.where(g.unit[:, 0] > 0, n_tc[:, None], n_vc[:, None])
    both = (single > 0) & (intra > 0)
    return both & (-(-single // cores) <= intra)


def greedy_block_rows(g: _Graph, single: np.ndarray, intra: np.ndarray, rank: np.ndarray, n_tc: np.ndarray,
           n_vc: np.ndarray, spread: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The event loop on one block of candidates (all feasible); returns (starts, modes, forks).

    `forks` (rows,) bool marks, in a plain-policy run, the rows where the spread policy would have
    decided differently at some start (an idle chip, a frugal op chosen, another op ready); up to its
    first such start the spread policy's run is the same, so where no start forks, its schedule is this
    one. In a spread run `forks` is all False.

    An intra-op interval holds the whole chip, so at most one runs at a time (per candidate): it is
    tracked apart (`intra_end`, `intra_op`) from the single-core ones (`run_end`, `used`).
    """
    rows_n, n = single.shape
    has_s, has_i = single >= 0, intra >= 0
    zero = (single == 0) | (intra == 0)  # after dominance a zero-length op has only that mode
    any_zero = bool(zero.any())
    # A single-core start needs l - L <= slack (the chip's busy time left): always true for single-only
    # and zero-length ops, never for intra-only ones (they start only on an idle chip).
    diff = np.where(has_s & has_i, single - intra, np.where(has_s, _SMALL, _BIG))
    diff[zero] = _SMALL
    frugal = frugal_ops(g, single, intra, n_tc, n_vc)
    forks = np.zeros(rows_n, dtype=bool)

    t = np.zeros(rows_n, dtype=np.int64)
    used = np.zeros((rows_n, 3), dtype=np.int64)  # single-core holdings
    chip_free = np.zeros(rows_n, dtype=np.int64)
    intra_end = np.full(rows_n, _BIG, dtype=np.int64)
    intra_op = np.zeros(rows_n, dtype=np.int64)
    pend = np.broadcast_to(g.indeg, (rows_n, n)).copy()  # unfinished preds, + n + 1 once started
    starts = np.full((rows_n, n), -1, dtype=np.int64)
    modes = np.zeros((rows_n, n), dtype=np.int8)
    run_end = np.full((rows_n, n), _BIG, dtype=np.int64)  # ends of running single-core ops
    next_end = np.full(rows_n, _BIG, dtype=np.int64)
    every = np.arange(rows_n)
    rank1 = (rank + 1).astype(np.min_scalar_type(n))  # a narrow type: the argmax below is the hot loop

    while True:
        no_intra = intra_end == _BIG
        idle = (used[:, 0] == 0) & (used[:, 1] == 0) & no_intra
        code = ((used[:, 0] < n_tc) & no_intra) + 2 * ((used[:, 1] < n_vc) & no_intra) + 4 * (used[:, 2] == 0)
        fit = g.fit_table[code]
        if any_zero:
            fit |= zero
        slack = np.maximum(chip_free - t, 0)
        ready = pend == 0
        ok = ready & ((fit & (diff <= slack[:, None])) | (idle[:, None] & has_i))
        best = (ok * rank1).argmax(axis=1)  # ranks are a permutation: ok ops score rank + 1 >= 1, others 0
        can = ok[every, best]
        rows = np.flatnonzero(can)
        if rows.size:
            j = best[rows]
            tr = t[rows]
            whole = has_i[rows, j]
            declines = frugal[rows, j] & (ready[rows].sum(axis=1) >= 2)  # spread keeps it on one core
            if spread:
                whole &= ~declines
            else:
                forks[rows] |= declines & idle[rows]
            im = np.where(idle[rows], whole, ~has_s[rows, j])
            d = np.where(im, intra[rows, j], single[rows, j])
            pend[rows, j] += n + 1
            starts[rows, j] = tr
            modes[rows, j] = im
            pe = tr + d
            run_s = (d > 0) & ~im
            r, c = rows[run_s], j[run_s]
            run_end[r, c] = pe[run_s]
            used[r] += g.unit[c]
            chip = (g.unit[c, 0] > 0) | (g.unit[c, 1] > 0)
            chip_free[r[chip]] = np.maximum(chip_free[r[chip]], pe[run_s][chip])
            run_i = (d > 0) & im
            r = rows[run_i]
            intra_end[r], intra_op[r], chip_free[r] = pe[run_i], j[run_i], pe[run_i]
            next_end[rows] = np.minimum(next_end[rows], np.where(d > 0, pe, _BIG))
            z = d == 0
            if z.any():  # zero-length ops finish at once
                pend[rows[z]] -= g.adj[j[z]].astype(np.int32)
        adv = ~can & (next_end < _BIG)
        if adv.any():
            thr = np.where(adv, next_end, -1)
            fin = run_end <= thr[:, None]
            upd = fin.astype(np.float32) @ g.adj_unit
            pend -= upd[:, :n].astype(np.int32)
            used -= upd[:, n:].astype(np.int64)
            fi = np.flatnonzero(intra_end <= thr)
            if fi.size:
                pend[fi] -= g.adj[intra_op[fi]].astype(np.int32)
                intra_end[fi] = _BIG
            np.putmask(run_end, fin, _BIG)
            next_end = np.where(adv, np.minimum(run_end.min(axis=1), intra_end), next_end)
            t = np.where(adv, thr, t)
        elif not rows.size:
            return starts, modes, forks
