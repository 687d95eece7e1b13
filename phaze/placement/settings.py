"""The placement settings one job explores: every (micro-batch, tensor width, recompute) the parallelism
config allows (DESIGN §7–8), and the literature strategies of phaze/data/literature_strategies.csv."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from phaze.config.model import ModelConfig, width_divides
from phaze.config.parallelism import ParallelismConfig


@dataclass(frozen=True, order=True)
class Setting:
    microbatch: int
    tensor: int
    recompute: str


@dataclass(frozen=True)
class LiteratureStrategy:
    """A published (pipeline, data, tensor) placement of a model (PHAZE's Solver/baseline_configs.py)."""

    pipeline: int
    data: int
    tensor: int
    source: str


def settings(par: ParallelismConfig, model: ModelConfig) -> tuple[list[Setting], list[int]]:
    """All settings in config order, and the tensor widths skipped because they do not divide heads,
    kv_heads or ffn (listed in the result, never an error)."""
    widths = [t for t in par.tensor_widths if width_divides(model, t) and t <= par.devices]
    skipped = [t for t in par.tensor_widths if t not in widths]
    return [Setting(b, t, r) for b in par.microbatch_sizes for t in widths for r in par.recompute], skipped


@cache
def _literature_table() -> dict[str, LiteratureStrategy]:
    text = resources.files("phaze").joinpath("data/literature_strategies.csv").read_text()
    return {row["model"]: LiteratureStrategy(int(row["pipeline_stages"]), int(row["data_parallel"]),
                                             int(row["tensor_parallel"]), row["source"])
            for row in csv.DictReader(text.splitlines())}


def literature_strategy(model_name: str) -> LiteratureStrategy | None:
    """The model's literature placement, looked up by its config name (data, not code: a model without a
    row simply has none)."""
    return _literature_table().get(model_name)
