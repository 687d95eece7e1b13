"""Cache of per-(candidate, layer, pass) schedules keyed by the CONTENT of the problem.

The key is a SHA-256 of what determines a result: the op DAG's resource classes and edges, the integer
durations of both modes, the core counts, and the solver settings that can change the answer — never
op names, the candidate's index or the layer's name, so identical problems (e.g. the same layer on two
designs that price it identically) share an entry. Entries live in memory and, optionally, as one JSON
file each under a directory (the search points it at `outputs/cache/`), written atomically so a killed
run never leaves a torn entry; a restarted run re-uses everything it finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from phaze.config.solver import SolverConfig
from phaze.schedule.instance import Instance
from phaze.schedule.result import Schedule

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
                sched = Schedule.from_dict(json.loads(path.read_text()))
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
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(sched.to_dict(), f, sort_keys=True)
        os.replace(tmp, path)

    def __len__(self) -> int:
        return len(self._mem)
