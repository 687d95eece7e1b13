"""`task=inspect`: build the model's layer graphs and report their size, work and memory."""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig

from phaze.config import as_object
from phaze.model import build_model
from phaze.model.summary import model_summary
from phaze.report.console import print_model_summary
from phaze.tracking.files import write_run_files


def run(cfg: DictConfig, out_dir: Path) -> dict:
    start = time.perf_counter()
    model_cfg = as_object(cfg, "model")
    settings = as_object(cfg, "inspect")
    graphs = build_model(model_cfg, settings.microbatch, settings.tensor_width, settings.sequence_parallel)
    model = model_summary(graphs)
    build_s = time.perf_counter() - start
    result = {"task": "inspect", "model": model}
    print_model_summary(model)
    paths = write_run_files(out_dir, cfg, result, {"build_s": build_s, "total_s": time.perf_counter() - start})
    print(f"results: {paths[0]}")
    return result
