"""Redundant per-core lanes for the CP-SAT model: one no-overlap per core of a small resource.

Separate from `cpsat_model` because it is an optional strengthening with its own validity argument
(`add_lanes`) and its own measured cut-off (MAX_LANES): the model would be correct without it.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

# Resources of up to this many cores also get per-core lanes. Measured on 30 open backward blocks each of
# llama2_7b / gpt3_175b (1 det-s): lanes for every capacity proved 15/30 and 29/30 (VC lanes on designs
# with thousands of vector cores slow llama down); up to 16 cores 18/30 and 28/30; none 11/30 and 18/30.
MAX_LANES = 16

# (start, duration, presence literal or None for a single-mode op, interval, units) of a resource's intervals
ResourceUse = tuple[cp_model.IntVar, int, cp_model.IntVar | None, cp_model.IntervalVar, int]


def add_lanes(m: cp_model.CpModel, uses: list[ResourceUse], cap: int) -> None:
    """Redundant per-core lanes: each one-unit interval also sits, optionally, on one of `cap` lanes
    (no-overlap each), a whole-resource interval on all of them.

    Why it holds: unit intervals fit a capacity-`cap` cumulative exactly when they can be dealt to `cap`
    lanes without overlap (interval graphs are perfect: at most `cap` overlap anywhere <=> `cap` colours),
    and a whole-resource interval overlaps nothing else on the resource either way. Lanes are identical, so
    the r-th unit interval (in op order, chosen or not) may use lanes 0..r only: relabelling the lanes of
    any colouring by first use gives one that obeys this. Why: CP-SAT's disjunctive reasoning per lane
    (edge finding, detectable precedences) proves packings the cumulative alone cannot — most of the open
    backward blocks on 2–4 tensor cores are such packing questions.
    """
    lanes: list[list[cp_model.IntervalVar]] = [[] for _ in range(cap)]
    rank = 0
    for start, duration, present, interval, units in uses:
        if units == cap:
            for lane in lanes:
                lane.append(interval)
            continue
        picks = []
        for lane in lanes[:min(rank + 1, cap)]:
            pick = m.new_bool_var("")
            lane.append(m.new_optional_fixed_size_interval_var(start, duration, pick, ""))
            picks.append(pick)
        rank += 1
        if present is None:
            m.add_exactly_one(picks)
        else:
            m.add(sum(picks) == present)
    for lane in lanes:
        if len(lane) > 1:
            m.add_no_overlap(lane)
