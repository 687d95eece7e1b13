"""A corrupt cache entry (empty, truncated, garbage, or well-formed but wrong) is reported in one line and
recomputed: the run gives the clean run's answer and rewrites the entry, instead of dying on a JSON error."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from conftest import compose_cfg, run_cli
from omegaconf import OmegaConf
from test_search import CPSAT_SPACE, TINY

from phaze.atomic_file import write_atomic
from phaze.config.search import SearchConfig
from phaze.hardware import Accelerators
from phaze.search.job import SCHEDULES_DIR, run_search


def _corruptions(good: bytes, other: bytes) -> dict[str, bytes]:
    """What a crash, a full disk or a stray write leaves: four ways for a file to be wrong."""
    return {"empty": b"", "truncated": good[: len(good) // 2], "garbage": b"\x00\xff garbage \x13\n",
            "wrong": other}


def test_corrupt_chunk_entries_are_recomputed(tmp_path: Path) -> None:
    args = [*TINY, "solver=greedy", "search.workers=1", "search.progress=false", "search.spotlight.evaluations=12",
            "tracking=none", f"search.cache_dir={tmp_path / 'cache'}"]
    clean = run_cli(*args, f"hydra.run.dir={tmp_path / 'clean'}", timeout=300)
    assert clean.returncode == 0, clean.stderr[-2000:]
    chunks = sorted((tmp_path / "cache").glob("*/chunks/*.json"))
    # four non-empty chunks to spoil ("wrong" = another chunk's pairs, valid JSON of the right shape)
    full = [p for p in chunks if json.loads(p.read_text())]
    assert len(full) >= 5
    originals = {p: p.read_bytes() for p in full}
    spoiled = dict(zip(full[:4], _corruptions(originals[full[0]], originals[full[4]]).values(), strict=True))
    for path, blob in spoiled.items():
        path.write_bytes(blob)
    (chunks[0].parent / "notes.json").write_text("{}")  # a stray file is ignored, not a chunk

    again = run_cli(*args, f"hydra.run.dir={tmp_path / 'again'}", timeout=300)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert (tmp_path / "again" / "result.json").read_bytes() == (tmp_path / "clean" / "result.json").read_bytes()
    lines = (again.stdout + again.stderr).splitlines()
    for path in spoiled:
        said = [line for line in lines if str(path) in line]
        assert len(said) == 1 and "corrupt chunk cache entry" in said[0] and "recomputing" in said[0], said
        assert path.read_bytes() == originals[path]  # recomputed and rewritten, byte for byte
    assert sum("corrupt chunk cache entry" in line for line in lines) == 4
    assert sum("stray chunk cache file" in line for line in lines) == 1
    timings = json.loads((tmp_path / "again" / "timings.json").read_text())
    assert timings["cached_chunks"] == len(chunks) - 4  # everything else came from the cache


def _search(cache: Path):
    cfg = compose_cfg([*TINY, *CPSAT_SPACE])
    model, par, solver = (OmegaConf.to_object(cfg[k]) for k in ("model", "parallelism", "solver"))
    run = run_search(model, par, solver, SearchConfig(workers=1, chunk_size=8), Accelerators.from_config(cfg.hw),
                     cache)
    return [r.as_dict() for r in run.pairs()], run.timings


def test_corrupt_schedule_entries_are_recomputed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "cache"
    clean, _ = _search(cache)
    entries = sorted((cache / SCHEDULES_DIR).glob("*/*.json"))
    assert len(entries) >= 4  # CP-SAT schedules of the open candidates: four to spoil
    originals = {p: p.read_bytes() for p in entries}
    # "wrong": a well-formed schedule of this problem whose recorded makespan is a nanosecond off, caught by
    # checking the schedule against its instance
    wrong = json.loads(originals[entries[0]])
    wrong["makespan_ns"] += 1
    kinds = _corruptions(originals[entries[2]], json.dumps(wrong).encode())
    spoiled = {entries[0]: kinds["wrong"], entries[1]: kinds["empty"], entries[2]: kinds["truncated"],
               entries[3]: kinds["garbage"]}
    for path, blob in spoiled.items():
        path.write_bytes(blob)
    shutil.rmtree(cache / "chunks")  # so the pairs are evaluated again and read the schedules back

    with caplog.at_level(logging.WARNING, logger="phaze.schedule.cache"):
        again, timings = _search(cache)
    assert again == clean
    said = [r.getMessage() for r in caplog.records if r.name == "phaze.schedule.cache"]
    assert len(said) == 4 and all("corrupt schedule cache entry" in m and "recomputing" in m for m in said)
    assert {next(str(p) for p in spoiled if str(p) in m) for m in said} == {str(p) for p in spoiled}
    reasons = {p.name: next(m for m in said if str(p) in m) for p in spoiled}
    assert "differs from its schedule's" in reasons[entries[0].name]  # the wrong makespan
    assert "empty file" in reasons[entries[1].name]
    assert "not JSON" in reasons[entries[2].name] and "not JSON" in reasons[entries[3].name]
    for path in spoiled:
        assert path.read_bytes() == originals[path]  # recomputed (CP-SAT is deterministic) and rewritten
    # (timings' schedule_cache_* count the job process's cache only; pairs on the executor's workers use theirs)
    assert timings["pairs_on_workers"] + timings["schedule_cache_misses"] >= 4


def test_write_atomic_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "d" / "entry.json"
    write_atomic(target, "first")
    write_atomic(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["entry.json"]  # no temporary file left behind
