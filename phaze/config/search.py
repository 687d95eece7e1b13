"""Schema of the `search` group: how the co-search runs (DESIGN §8). None of it changes the answer except
`pruning: false`, which evaluates every pair exactly (for checking the pruned search against it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from phaze.config.errors import ConfigError

OBJECTIVES = ("throughput", "throughput_per_watt", "throughput_per_mm2", "energy_per_token")
ENERGY_OBJECTIVES = ("throughput_per_watt", "energy_per_token")  # both score samples per joule


SHARD = re.compile(r"^(\d+)/(\d+)$")
EXECUTORS = ("local", "ray")
# host:port of a running cluster's GCS, ray://host:port (Ray Client), or "auto" (the cluster this machine joined)
RAY_ADDRESS = re.compile(r"^(auto|ray://[^\s/:]+:\d+|[^\s/:]+:\d+)$")


@dataclass
class SpotlightConfig:
    evaluations: int = 200  # Bayesian-optimisation budget (objective evaluations)
    seed: int = 0
    initial: int = 10  # random designs before the surrogate takes over


@dataclass
class SearchConfig:
    workers: int = 2  # processes evaluating a chunk; use 1 under a parallel Hydra launcher
    executor: str = "local"  # local: forked processes on this machine; ray: tasks on a Ray cluster
    ray_address: str | None = None  # executor=ray: null = start a Ray on 127.0.0.1 with `workers` CPUs
    shard: str = "0/1"  # i/n: this job evaluates the candidates with index % n == i
    chunk_size: int = 256  # pairs per chunk; the incumbent is updated between chunks
    pruning: bool = True
    cache_dir: str = "outputs/cache"  # finished chunks are kept under <cache_dir>/<config_hash>/
    progress: bool = True
    baselines: list[str] = field(default_factory=lambda: ["tpuv4", "tpuv4_phaze"])
    baseline_hbm_gib: float = 32.0  # the fixed baselines are also evaluated at this HBM capacity
    spotlight: SpotlightConfig = field(default_factory=SpotlightConfig)
    # What the search maximises (phaze/search/objective.py): throughput | throughput_per_watt |
    # throughput_per_mm2 | energy_per_token (minimised). Every pair is placed for throughput; this ranks pairs.
    objective: str = "throughput"


def parse_shard(value: str) -> tuple[int, int]:
    match = SHARD.match(str(value))
    if not match or int(match.group(2)) < 1 or int(match.group(1)) >= int(match.group(2)):
        raise ConfigError("search.shard", value, "i/n with 0 <= i < n, e.g. 0/1 or 2/4")
    return int(match.group(1)), int(match.group(2))


def validate(cfg: SearchConfig) -> None:
    for name in ("workers", "chunk_size"):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"search.{name}", value, "a positive integer")
    parse_shard(cfg.shard)
    if cfg.executor not in EXECUTORS:
        raise ConfigError("search.executor", cfg.executor, "one of " + ", ".join(EXECUTORS))
    if cfg.ray_address is not None and not RAY_ADDRESS.match(str(cfg.ray_address)):
        raise ConfigError("search.ray_address", cfg.ray_address,
                          "null (start a local Ray on 127.0.0.1), host:port, ray://host:port or auto")
    if cfg.spotlight.evaluations < 1:
        raise ConfigError("search.spotlight.evaluations", cfg.spotlight.evaluations, "a positive integer")
    if cfg.spotlight.initial < 1:
        raise ConfigError("search.spotlight.initial", cfg.spotlight.initial, "a positive integer")
    if cfg.objective not in OBJECTIVES:
        raise ConfigError("search.objective", cfg.objective, " | ".join(OBJECTIVES))
    if not cfg.baseline_hbm_gib > 0:
        raise ConfigError("search.baseline_hbm_gib", cfg.baseline_hbm_gib, "a positive number of GiB")
