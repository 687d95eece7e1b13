"""Typed configuration: one dataclass per Hydra config group, registered in the ConfigStore, plus the
cross-field rules (`validate`) that a type system cannot express.

Schemas are stored as `schema/<group>/base` and pulled into each YAML file with
`defaults: [/schema/<group>/base@_here_, _self_]`, so they never show up as a selectable choice
(DESIGN §10).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from phaze.config import hw, hw_rules, model, parallelism, search, solver, task, tracking
from phaze.config.errors import ConfigError

# The config tree, shipped inside the package (an absolute path: a relative config_path breaks the console
# script, DESIGN §10).
CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")

SCHEMAS: dict[str, type] = {
    "model": model.ModelConfig,
    "hw": hw.HwConfig,
    "solver": solver.SolverConfig,
    "parallelism": parallelism.ParallelismConfig,
    "search": search.SearchConfig,
    "tracking": tracking.TrackingConfig,
    "task": task.TaskConfig,
    "inspect": task.InspectConfig,
    "merge": task.MergeConfig,
}


def register_schemas() -> None:
    cs = ConfigStore.instance()
    for group, node in SCHEMAS.items():
        cs.store(group=f"schema/{group}", name="base", node=node)


def as_object(cfg: DictConfig, key: str) -> Any:
    """The typed dataclass instance behind `cfg[key]` (a structured config section)."""
    return OmegaConf.to_object(cfg[key])


def validate(cfg: DictConfig) -> None:
    """Apply every group's cross-field rules; raises ConfigError on the first violation."""
    model_cfg = as_object(cfg, "model")
    model.validate(model_cfg)
    task.validate(as_object(cfg, "task"))
    hw_rules.validate(cfg.hw)
    solver.validate(as_object(cfg, "solver"))
    par = as_object(cfg, "parallelism")
    parallelism.validate(par, model_cfg)
    if model_cfg.onnx_path is not None and par.sequence_parallel:  # onnx_import.py shards by Megatron TP only
        raise ConfigError("parallelism.sequence_parallel", True, "false for an ONNX model (model=onnx)")
    search.validate(as_object(cfg, "search"))
    tracking.validate(as_object(cfg, "tracking"))
    if cfg.task.name == "merge" and not cfg.merge.dirs:
        raise ConfigError("merge.dirs", [], "the run directories of every search shard, e.g. merge.dirs=[a,b]")
    if cfg.task.name == "search" and cfg.hw.space is None:
        raise ConfigError("hw", cfg.hw.name, "task=search needs a search space: hw=search (or task=evaluate)")
    if cfg.task.name == "inspect":
        inspect_cfg = as_object(cfg, "inspect")
        task.validate_inspect(inspect_cfg)
        if model_cfg.onnx_path is not None and inspect_cfg.sequence_parallel:
            raise ConfigError("inspect.sequence_parallel", True, "false for an ONNX model (model=onnx)")
        model.validate_tensor_width(model_cfg, inspect_cfg.tensor_width, "inspect.tensor_width")
    if cfg.task.name == "evaluate" and cfg.hw.space is not None:
        raise ConfigError("hw", cfg.hw.name, "task=evaluate needs a fixed design: tpuv4, tpuv4_phaze, a100, h100 "
                          "or your own hw/*.yaml without a space")


__all__ = ["CONF_DIR", "ConfigError", "as_object", "register_schemas", "validate"]
