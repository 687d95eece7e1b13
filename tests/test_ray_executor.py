"""search.executor=ray: the same result.json as the local run, byte for byte, on a Ray bound to loopback.

Stage A split by candidate range is checked array by array against the whole space (no Ray needed); the
Ray run starts its own Ray on 127.0.0.1 with 2 CPUs (search.ray_address=null) and stops it at its end,
and while it runs every socket its processes listen on must be a loopback one.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, compose_cfg, run_cli
from omegaconf import OmegaConf
from test_search import SMALL, TINY

from phaze.config.errors import ConfigError
from phaze.config.search import SearchConfig, validate
from phaze.hardware import Accelerators
from phaze.model import build_model
from phaze.placement.layer_times import layer_times
from phaze.search.split import candidate_ranges, concat_parts, range_times

pytest.importorskip("ray", reason="the [ray] extra is not installed")  # `make test` installs it: runs in CI

LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp*


def _same(a: Any, b: Any, where: str = "") -> None:
    """Recursive bit-for-bit equality of dataclasses, dicts and arrays (dtype and shape included)."""
    assert type(a) is type(b), where
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert a.tobytes() == b.tobytes(), where
    else:
        assert a == b, where


def test_candidate_ranges_cover_the_space_in_unequal_parts() -> None:
    for n, parts in [(10, 2), (12, 3), (4320, 2), (4320, 7), (5, 4), (3, 2), (1, 2)]:
        ranges = candidate_ranges(n, parts)
        assert ranges[0][0] == 0 and ranges[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        sizes = [hi - lo for lo, hi in ranges]
        assert min(sizes) >= 1 and len(ranges) <= parts
        assert len(ranges) == 1 or len(set(sizes)) > 1  # never all one size (split.py module doc)
    assert candidate_ranges(12, 3) == [(0, 5), (5, 9), (9, 12)]


@pytest.mark.parametrize("parts", [2, 3])
def test_stage_a_by_candidate_range_is_the_whole_space_bit_for_bit(parts: int) -> None:
    cfg = compose_cfg(SMALL)
    acc = Accelerators.from_config(cfg.hw)
    model = build_model(OmegaConf.to_object(cfg.model), 4, 2, cfg.parallelism.sequence_parallel,
                        kernels=cfg.parallelism.kernels)
    whole = layer_times(model, acc)
    ranges = candidate_ranges(len(acc), parts)
    merged = concat_parts([range_times(model, acc, lo, hi) for lo, hi in ranges], [hi - lo for lo, hi in ranges])
    assert len(acc) == 4320 and len(ranges) == parts  # 2,160 designs x 2 bank counts
    _same(merged, whole)


def test_executor_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"search\.executor='dask'"):
        validate(SearchConfig(executor="dask"))
    with pytest.raises(ConfigError, match=r"search\.ray_address='http://x:1'"):
        validate(SearchConfig(executor="ray", ray_address="http://x:1"))
    for ok in (None, "auto", "10.0.0.5:6379", "ray://head:10001"):
        validate(SearchConfig(executor="ray", ray_address=ok))
    proc = run_cli(*TINY, "search.executor=ray", "search.ray_address=nowhere", "tracking=none")
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "search.ray_address" in proc.stderr


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = set(), [root]
    while todo:
        pid = todo.pop()
        out.add(pid)
        todo += children.get(pid, [])
    return out


def _listening(pids: set[int]) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state held by one of `pids`."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == LISTEN and cols[9] in inodes:
                host, port = cols[1].split(":")
                raw = bytes.fromhex(host)
                if len(raw) == 4:
                    addr = ipaddress.IPv4Address(raw[::-1])
                else:  # four little-endian 32-bit words
                    addr = ipaddress.IPv6Address(b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
                out.add((str(addr), int(port, 16)))
    return out


def _loopback(addr: str) -> bool:
    ip = ipaddress.ip_address(addr)
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


# TINY (450 candidates, 3,600 pairs) in chunks of 64: the first chunk has no incumbent yet, so all of its pairs
# go to the Ray workers; later chunks are mostly pruned by their bound in the job process
RAY_CASE = [*TINY, "solver=greedy", "search.chunk_size=64", "search.progress=false",
            "search.spotlight.evaluations=20", "tracking=none"]


def test_ray_search_gives_the_local_result_json_on_loopback(tmp_path: Path) -> None:
    local = run_cli(*RAY_CASE, f"hydra.run.dir={tmp_path / 'local'}", f"search.cache_dir={tmp_path / 'c-local'}",
                    timeout=300)
    assert local.returncode == 0, local.stderr
    cmd = [sys.executable, "-m", "phaze", *RAY_CASE, "search.executor=ray", "search.workers=2",
           f"hydra.run.dir={tmp_path / 'ray'}", f"search.cache_dir={tmp_path / 'c-ray'}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}  # phaze sets what Ray needs
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: set[tuple[str, int]] = set()
    ray_pids: set[int] = set()
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        pids = _descendants(proc.pid) - {proc.pid}
        ray_pids |= pids
        seen |= _listening(pids)
        time.sleep(0.2)
    _, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    assert proc.returncode == 0, err
    assert len(seen) >= 3, seen  # Ray's GCS, raylet and workers were seen listening ...
    assert all(_loopback(addr) for addr, _ in seen), sorted(seen)  # ... on loopback only
    assert (tmp_path / "ray" / "result.json").read_bytes() == (tmp_path / "local" / "result.json").read_bytes()
    timings = json.loads((tmp_path / "ray" / "timings.json").read_text())
    result = json.loads((tmp_path / "ray" / "result.json").read_text())
    assert timings["workers"] == 2 and timings["pairs_on_workers"] >= 64
    assert result["search"]["pairs"] == 7200 and result["search"]["pairs_evaluated"] >= 64
    time.sleep(2)
    assert not _listening(ray_pids)  # the Ray it started is gone
