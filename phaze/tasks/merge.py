"""`task=merge merge.dirs=[...]`: combine `search.shard=i/n` runs into the answer of one job.

The merge takes the search's config from the shards' own `config.resolved.yaml` (their experiment, model,
space and every override), not from its own command line: `task=merge merge.dirs=[...]` is the whole
command. The merged run directory then holds what the single job would have written: its `result.json` is
byte-identical to an unsharded run of the same config (same `config_hash`, `task: search`, same baseline
order), and so are `candidates.parquet` and the plots. Only the merge's own settings that cannot change the
answer (tracking; `search.workers`, `search.progress`, `search.cache_dir`) come from its command line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from phaze.config import SCHEMAS, as_object
from phaze.config.errors import ConfigError
from phaze.hardware import Accelerators
from phaze.search.merge import read_pairs, replay, shard_dirs
from phaze.tasks.search import finish
from phaze.tracking.files import NON_SEMANTIC, config_hash

ONE_JOB = "0/1"  # the shard setting of the unsharded job the shards split


def _same_search(cfg: DictConfig) -> str:
    """The config hash with the shard index left out: equal for every shard of one search."""
    return config_hash(OmegaConf.merge(cfg, {"search": {"shard": ONE_JOB}}))


def one_job_config(shard: DictConfig, merge_cfg: DictConfig) -> DictConfig:
    """The config of the single job the shards split: a shard's resolved config with `search.shard=0/1`, each
    group typed by its schema again (as Hydra composed it), and the merge job's own tracking and
    `search.workers/progress/cache_dir` (settings `config_hash` leaves out, so the hash is the single job's)."""
    out = OmegaConf.create({})
    for key, value in shard.items():
        schema = SCHEMAS.get(str(key))
        out[key] = OmegaConf.merge(OmegaConf.structured(schema), value) if schema is not None else value
    for group, keys in NON_SEMANTIC.items():
        if group not in merge_cfg or group not in out:
            continue
        if keys is None:
            out[group] = merge_cfg[group]
        else:
            for k in keys:
                out[group][k] = merge_cfg[group][k]
    out.search.shard = ONE_JOB
    return out


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
    try:
        merged_cfg = one_job_config(first, cfg)
    except OmegaConfBaseException as err:  # a shard written by a phaze whose config schema differs
        raise ConfigError("merge.dirs", str(dirs[0]), "shards run by this phaze version (their "
                          f"config.resolved.yaml does not fit its schema: {str(err).splitlines()[0]})") from None
    acc = Accelerators.from_config(merged_cfg.hw)
    pairs = replay([read_pairs(d / "pairs.parquet") for d in dirs], str(merged_cfg.solver.name))
    member = np.ones(len(acc), dtype=bool)
    over_power = np.zeros(len(acc), dtype=bool)  # each shard lists its own candidates the power budget left out
    for r in results:
        over_power[np.asarray(r["search"].get("over_power_candidates", []), dtype=np.int64)] = True
    return finish(merged_cfg, out_dir, acc, pairs, member, zero["search"]["skipped_widths"],
                  zero["search"]["closed_by_greedy"], zero.get("baselines"), {"merge_s": 0.0}, start,
                  lambda best: shard_time_split(results, best), over_power)


def shard_time_split(results: list[dict[str, Any]], best: dict[str, Any]) -> dict[str, Any] | None:
    """The merged best design's layer time split: the shard that searched it found it as its own best and wrote
    the split of its schedules (the merge has no layer times of its own). None if no shard has it."""
    derived = ("bound", "on_boundary", "objective")  # what finish() adds to `best` after this split: not matched
    for r in results:
        own = r.get("best")
        if isinstance(own, dict) and {k: v for k, v in own.items() if k not in derived} == {
                k: v for k, v in best.items() if k not in derived} and "best_layer_time_split" in r:
            return r["best_layer_time_split"]
    return None
