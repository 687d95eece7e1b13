"""Combine shards into the answer of one job (DESIGN §8: `search.shard=i/n`, then `task=merge`).

Each shard recorded, per (candidate, setting) pair, the raw measurements (`PairResult`) and the global
chunk the pair belongs to. A shard's incumbent never exceeds the whole job's at the same chunk (it has
seen a subset of the pairs), so a shard measured at least what the whole job would. Replaying the chunks
in order with the whole job's incumbent, through the same `decide`, reproduces the single job exactly.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pandas as pd

from phaze.config.errors import ConfigError
from phaze.search.pair import PairResult, decide

PLACEMENT_FIELDS = ("greedy_placement", "refined_placement", "placement")
RAW_FIELDS = ("candidate", "setting", "optimistic", "greedy", "greedy_placement", "greedy_score", "closed", "upper",
              "upper_score", "refined", "refined_placement", "refined_score", "refined_optimal", "refined_gap")


def read_pairs(path: Path) -> tuple[list[PairResult], list[int]]:
    df = pd.read_parquet(path)
    pairs, chunks = [], []
    for row in df.to_dict(orient="records"):
        raw: dict[str, Any] = {k: row[k] for k in RAW_FIELDS}
        for k in ("greedy_placement", "refined_placement"):
            raw[k] = ast.literal_eval(raw[k]) if isinstance(raw[k], str) else raw[k]
        for k in ("greedy", "upper", "refined"):
            raw[k] = None if raw[k] is None or pd.isna(raw[k]) else float(raw[k])
        for k in ("greedy_score", "upper_score", "refined_score"):
            raw[k] = float(raw[k])
        raw["candidate"], raw["setting"] = int(raw["candidate"]), int(raw["setting"])
        pairs.append(PairResult(**raw))
        chunks.append(int(row["chunk"]))
    return pairs, chunks


def replay(shards: list[tuple[list[PairResult], list[int]]], solver_name: str) -> list[PairResult]:
    """The single job's decisions over the union of the shards' pairs, in chunk order."""
    by_chunk: dict[int, list[PairResult]] = {}
    for pairs, chunks in shards:
        for r, k in zip(pairs, chunks, strict=True):
            by_chunk.setdefault(k, []).append(r)
    incumbent, out = 0.0, []
    for k in sorted(by_chunk):
        chunk = sorted(by_chunk[k], key=lambda r: (-r.optimistic, r.candidate, r.setting))
        for r in chunk:
            missing = decide(r, incumbent, solver_name)
            if missing is not None:
                raise ConfigError("merge.dirs", f"chunk {k}", f"a shard lacks the {missing!r} measurement of "
                                  f"candidate {r.candidate}: were all shards run with the same config?")
        out.extend(chunk)
        incumbent = max(incumbent, *(r.score for r in chunk))
    return out


def shard_dirs(dirs: list[str]) -> list[Path]:
    paths = [Path(d) for d in dirs]
    missing = [str(p) for p in paths if not (p / "pairs.parquet").is_file() or not (p / "result.json").is_file()]
    if not paths or missing:
        raise ConfigError("merge.dirs", missing or dirs,
                          "run directories of search shards (with pairs.parquet and result.json)")
    results = [json.loads((p / "result.json").read_text()) for p in paths]
    shards = sorted(r["search"]["shard"] for r in results)
    n = int(shards[0].split("/")[1])
    if shards != [f"{i}/{n}" for i in range(n)]:
        raise ConfigError("merge.dirs", shards, f"exactly the shards 0/{n} .. {n - 1}/{n}, once each")
    return paths
