"""`task=merge merge.dirs=[...]`: combine `search.shard=i/n` runs into the answer of one job."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from phaze.config import as_object
from phaze.config.errors import ConfigError
from phaze.hardware import Accelerators
from phaze.search.merge import read_pairs, replay, shard_dirs
from phaze.tasks.search import finish
from phaze.tracking.files import config_hash


def _same_search(cfg: DictConfig) -> str:
    """The config hash with the shard index left out: equal for every shard of one search."""
    return config_hash(OmegaConf.merge(cfg, {"search": {"shard": "0/1"}}))


def run(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    start = time.perf_counter()
    dirs = shard_dirs(list(as_object(cfg, "merge").dirs))
    shard_cfgs = [OmegaConf.load(d / "config.resolved.yaml") for d in dirs]
    first = shard_cfgs[0]
    for d, other in zip(dirs[1:], shard_cfgs[1:], strict=True):
        if _same_search(other) != _same_search(first):
            raise ConfigError("merge.dirs", str(d), f"a shard of the same search as {dirs[0]} (its config differs)")
    results = [json.loads((d / "result.json").read_text()) for d in dirs]
    zero = next(r for r in results if r["search"]["shard"].startswith("0/"))
    # the merge job's own (typed) config, overwritten by the shards' settings: one job's config
    shard_values = OmegaConf.masked_copy(first, [k for k in first if k not in ("task", "merge")])
    merged_cfg = OmegaConf.merge(cfg, shard_values, {"search": {"shard": "0/1"}})
    acc = Accelerators.from_config(merged_cfg.hw)
    pairs = replay([read_pairs(d / "pairs.parquet") for d in dirs], str(merged_cfg.solver.name))
    member = np.ones(len(acc), dtype=bool)
    return finish(merged_cfg, out_dir, acc, pairs, member, zero["search"]["skipped_widths"],
                  zero["search"]["closed_by_greedy"], zero.get("baselines"), {"merge_s": 0.0}, start,
                  lambda best: shard_time_split(results, best))


def shard_time_split(results: list[dict[str, Any]], best: dict[str, Any]) -> dict[str, Any] | None:
    """The merged best design's layer time split: the shard that searched it found it as its own best and wrote
    the split of its schedules (the merge has no layer times of its own). None if no shard has it."""
    for r in results:
        own = r.get("best")
        if isinstance(own, dict) and own == best and "best_layer_time_split" in r:
            return r["best_layer_time_split"]
    return None
