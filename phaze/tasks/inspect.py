"""`task=inspect`: the model's layer graphs (size, work, memory) and the hardware (design or search space)."""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig

from phaze.config import as_object
from phaze.hardware import hardware_summary
from phaze.model import build_model
from phaze.model.summary import model_summary
from phaze.report.console import print_hardware_summary, print_model_summary
from phaze.tracking.files import write_run_files


def run(cfg: DictConfig, out_dir: Path) -> dict:
    start = time.perf_counter()
    model_cfg = as_object(cfg, "model")
    settings = as_object(cfg, "inspect")
    kernels = as_object(cfg, "parallelism").kernels  # the same kernels the placement would price
    graphs = build_model(model_cfg, settings.microbatch, settings.tensor_width, settings.sequence_parallel,
                         kernels=kernels)
    model = model_summary(graphs)
    build_s = time.perf_counter() - start
    hardware = hardware_summary(cfg.hw)
    hardware_s = time.perf_counter() - start - build_s
    result = {"task": "inspect", "model": model, "hardware": hardware}
    print_model_summary(model)
    print_hardware_summary(hardware)
    timings = {"build_s": build_s, "hardware_s": hardware_s, "total_s": time.perf_counter() - start}
    paths = write_run_files(out_dir, cfg, result, timings)
    print(f"results: {paths[0]}")
    return result
