"""Schema of the `parallelism` group: the device-placement space of one job (DESIGN §7).

Widths that do not divide the model's heads, kv_heads or ffn are skipped and listed in the result, never an
error: a default list must work for every model. Only an explicit `fixed` strategy that cannot run errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from phaze.config.errors import ConfigError
from phaze.config.model import ModelConfig, validate_tensor_width

RECOMPUTE = ("none", "selective", "full")
OPTIMIZERS = ("adam_mixed", "sgd")
# `1f1b`: PipeDream-flush (DESIGN §7); `interleaved`: Megatron-LM's interleaved 1F1B with `chunks` model
# chunks per device (Narayanan et al. SC21 §2.2.2; phaze/placement/interleaved.py).
SCHEDULES = ("1f1b", "interleaved")
# How a layer's ops are grouped into kernels (phaze/model/fusion.py): `fused` = PHAZE's fusion pass (what
# an accelerator compiler does); `megatron_sc21` = the kernels of Megatron-LM as measured by Narayanan et al.
KERNELS = ("fused", "megatron_sc21")


@dataclass
class FixedStrategy:
    """One given placement, e.g. a literature strategy (phaze/data/literature_strategies.csv).

    Unset (data, pipeline and tensor all null) means "not fixed". A null micro-batch or recompute takes
    the best feasible value from the configured lists, as literature placements do (DESIGN §7). Every
    field is nullable, rather than the whole section, so `parallelism.fixed.data=8` works as an override.
    """

    data: int | None = None
    pipeline: int | None = None
    tensor: int | None = None
    microbatch: int | None = None
    recompute: str | None = None

    @property
    def is_set(self) -> bool:
        return any(v is not None for v in (self.data, self.pipeline, self.tensor, self.microbatch, self.recompute))


@dataclass
class ParallelismConfig:
    devices: int = 1024
    global_batch: int = 4096
    microbatch_sizes: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    tensor_widths: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    recompute: list[str] = field(default_factory=lambda: ["none", "full"])
    sequence_parallel: bool = False
    optimizer: str = "adam_mixed"
    schedule: str = "1f1b"
    chunks: int = 2  # model chunks per device, used by schedule=interleaved only
    kernels: str = "fused"
    fixed: FixedStrategy | None = field(default_factory=FixedStrategy)

    @property
    def fixed_strategy(self) -> FixedStrategy | None:
        return self.fixed if self.fixed is not None and self.fixed.is_set else None


def _positive(field_name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(field_name, value, "a positive integer")


def validate(cfg: ParallelismConfig, model: ModelConfig | None = None) -> None:
    _positive("parallelism.devices", cfg.devices)
    _positive("parallelism.global_batch", cfg.global_batch)
    if not cfg.microbatch_sizes:
        raise ConfigError("parallelism.microbatch_sizes", cfg.microbatch_sizes, "a non-empty list")
    for b in cfg.microbatch_sizes:
        _positive("parallelism.microbatch_sizes", b)
        if cfg.global_batch % b:
            raise ConfigError("parallelism.microbatch_sizes", b,
                              f"each must divide parallelism.global_batch={cfg.global_batch}")
    if not cfg.tensor_widths:
        raise ConfigError("parallelism.tensor_widths", cfg.tensor_widths, "a non-empty list")
    for t in cfg.tensor_widths:
        _positive("parallelism.tensor_widths", t)
    if not cfg.recompute or any(r not in RECOMPUTE for r in cfg.recompute):
        raise ConfigError("parallelism.recompute", cfg.recompute, f"a non-empty list of {', '.join(RECOMPUTE)}")
    if cfg.optimizer not in OPTIMIZERS:
        raise ConfigError("parallelism.optimizer", cfg.optimizer, f"one of {', '.join(OPTIMIZERS)}")
    if cfg.schedule not in SCHEDULES:
        raise ConfigError("parallelism.schedule", cfg.schedule, f"one of {', '.join(SCHEDULES)}")
    _positive("parallelism.chunks", cfg.chunks)
    if cfg.schedule == "interleaved" and cfg.chunks < 2:
        raise ConfigError("parallelism.chunks", cfg.chunks, "at least 2 with parallelism.schedule=interleaved")
    if cfg.kernels not in KERNELS:
        raise ConfigError("parallelism.kernels", cfg.kernels, f"one of {', '.join(KERNELS)}")
    if cfg.fixed_strategy is not None:
        _validate_fixed(cfg, cfg.fixed_strategy, model)


def _validate_fixed(cfg: ParallelismConfig, fixed: FixedStrategy, model: ModelConfig | None) -> None:
    for name in ("data", "pipeline", "tensor"):
        if getattr(fixed, name) is None:
            raise ConfigError(f"parallelism.fixed.{name}", None,
                              "a positive integer: a fixed strategy sets data, pipeline and tensor")
        _positive(f"parallelism.fixed.{name}", getattr(fixed, name))
    if fixed.microbatch is not None:
        _positive("parallelism.fixed.microbatch", fixed.microbatch)
    assert fixed.data is not None and fixed.pipeline is not None and fixed.tensor is not None
    used = fixed.data * fixed.pipeline * fixed.tensor
    if used > cfg.devices:
        raise ConfigError("parallelism.fixed", f"{fixed.data}x{fixed.pipeline}x{fixed.tensor}",
                          f"data·pipeline·tensor = {used} must be at most parallelism.devices={cfg.devices}")
    if fixed.microbatch is not None and cfg.global_batch % fixed.microbatch:
        raise ConfigError("parallelism.fixed.microbatch", fixed.microbatch,
                          f"must divide parallelism.global_batch={cfg.global_batch}")
    if fixed.recompute is not None and fixed.recompute not in RECOMPUTE:
        raise ConfigError("parallelism.fixed.recompute", fixed.recompute, f"one of {', '.join(RECOMPUTE)}")
    if model is not None:
        validate_tensor_width(model, fixed.tensor, "parallelism.fixed.tensor")
        if fixed.pipeline > model.layers + 2:
            raise ConfigError("parallelism.fixed.pipeline", fixed.pipeline,
                              f"at most model.layers + 2 = {model.layers + 2} stages")
