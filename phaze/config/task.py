"""Schemas of the `task` group and of the per-task settings sections (`inspect`, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field

from phaze.config.errors import ConfigError

TASKS = ("inspect", "evaluate", "search", "merge")


@dataclass
class TaskConfig:
    name: str = "inspect"


@dataclass
class InspectConfig:
    """`task=inspect`: one model at one micro-batch and tensor width."""

    microbatch: int = 1
    tensor_width: int = 1
    sequence_parallel: bool = False


@dataclass
class MergeConfig:
    """`task=merge`: the run directories of every shard of one search."""

    dirs: list[str] = field(default_factory=list)


def validate(cfg: TaskConfig) -> None:
    if cfg.name not in TASKS:
        raise ConfigError("task.name", cfg.name, f"one of {', '.join(TASKS)}")


def validate_inspect(cfg: InspectConfig) -> None:
    if not isinstance(cfg.microbatch, int) or cfg.microbatch <= 0:
        raise ConfigError("inspect.microbatch", cfg.microbatch, "a positive integer")
