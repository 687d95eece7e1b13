"""Cache of per-(candidate, layer, pass) schedules keyed by the CONTENT of the problem.

The key is a SHA-256 of what determines a result: the op DAG's resource classes and edges, the integer
durations of both modes, the core counts, and the solver settings that can change the answer — never
op names, the candidate's index or the layer's name, so identical problems (e.g. the same layer on two
designs that price it identically) share an entry. Entries live in memory and, optionally, as one JSON
file each under a directory (the search points it at `outputs/cache/`), written atomically and fsynced
(`phaze.atomic_file`) so a killed run never leaves a torn entry; a restarted run re-uses everything it
finished. An entry read back from disk is checked before it is used (it parses, has every field, and, when
the instance is known, is a valid schedule of it with the recorded makespan); one that is not, e.g. an
empty or truncated file left by a crash of the machine or a full disk, is reported in one line and treated
as a miss, so the caller recomputes it and `put` overwrites it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from phaze.atomic_file import write_atomic
from phaze.config.solver import SolverConfig
from phaze.schedule.check import ScheduleError, check_schedule
from phaze.schedule.instance import Instance
from phaze.schedule.result import FEASIBLE, INFEASIBLE, OPTIMAL, Schedule

log = logging.getLogger(__name__)

# Bump when the meaning of a cached result changes (model, rounding, statuses).
CACHE_VERSION = 4  # 4: the phase bound settles candidates CP-SAT left feasible


def instance_key(inst: Instance, cfg: SolverConfig) -> str:
    """Content hash of one scheduling problem and the solver settings that shape its result."""
    payload = {
        "v": CACHE_VERSION,
        "classes": list(inst.op_class),
        "edges": [list(e) for e in inst.edges],
        "single_ns": list(inst.single),
        "intra_ns": list(inst.intra),
        "n_tc": inst.n_tc,
        "n_vc": inst.n_vc,
        "solver": [cfg.name, float(cfg.max_deterministic_time), cfg.max_time_in_seconds, cfg.workers,
                   cfg.seed, cfg.hint, cfg.interleave_search, cfg.linearization_level],
    }
    blob = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


class ScheduleCache:
    """In-memory dict plus an optional on-disk directory of `<key[:2]>/<key>.json` files."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self._mem: dict[str, Schedule] = {}
        self.directory = Path(directory) if directory is not None else None
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str, inst: Instance | None = None, candidate: int = -1) -> Schedule | None:
        """The cached schedule, relabelled with this instance's layer/pass and `candidate`."""
        sched = self._mem.get(key)
        if sched is None and self.directory is not None:
            path = self._path(key)
            if path.is_file():
                sched = read_entry(path, inst)
                if sched is not None:
                    self._mem[key] = sched
        if sched is None:
            self.misses += 1
            return None
        self.hits += 1
        if inst is not None:
            sched = replace(sched, layer=inst.layer, pass_=inst.pass_, candidate=candidate)
        return sched

    def put(self, key: str, sched: Schedule) -> None:
        self._mem[key] = sched
        if self.directory is None:
            return
        write_atomic(self._path(key), json.dumps(sched.to_dict(), sort_keys=True))

    def __len__(self) -> int:
        return len(self._mem)


class CorruptEntry(ValueError):
    """A cache file that cannot be what was written: what is wrong with it, in a few words."""


def read_entry(path: Path, inst: Instance | None = None) -> Schedule | None:
    """The schedule stored at `path`, or None (after one warning line) if the file is corrupt."""
    try:
        return _parse_entry(path.read_bytes(), inst)
    except CorruptEntry as err:
        log.warning("corrupt schedule cache entry %s (%s): recomputing it", path, err)
        return None


def _parse_entry(blob: bytes, inst: Instance | None) -> Schedule:
    if not blob.strip():
        raise CorruptEntry("empty file")
    try:
        d: Any = json.loads(blob)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptEntry(f"not JSON: {err}") from None
    if not isinstance(d, dict):
        raise CorruptEntry("not a JSON object")
    try:
        sched = Schedule.from_dict(d)
    except (TypeError, KeyError) as err:
        raise CorruptEntry(f"wrong fields: {err}") from None
    if sched.status not in (OPTIMAL, FEASIBLE, INFEASIBLE):
        raise CorruptEntry(f"unknown status {sched.status!r}")
    if inst is not None and sched.status != INFEASIBLE:
        try:
            makespan = check_schedule(inst, sched.starts_ns, sched.modes)
        except (ScheduleError, TypeError, ValueError, IndexError) as err:  # wrong values, wrong types
            raise CorruptEntry(f"not a valid schedule of the problem: {err}") from None
        if makespan != sched.makespan_ns:
            raise CorruptEntry(f"makespan {sched.makespan_ns} differs from its schedule's {makespan}")
    return sched
