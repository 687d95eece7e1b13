"""The job run's MLflow name and tags, derived from the config, Hydra's runtime and the result (DESIGN §8).

Separate from `mlflow_log.py` because it only reads Hydra and the run directory and never talks to
MLflow: the sweep callback needs the same group choices for the parent run's tags, and `mlflow_log` keeps
to the client calls.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from phaze.tracking.files import provenance
from phaze.tracking.session import experiment_name

SWEEP_FUNCTIONS = ("range(", "choice(", "interval(", "glob(")  # Hydra's sweep override syntax


def run_name(cfg: DictConfig, result: Mapping[str, Any]) -> str:
    """`<task>-<model>`; in a sweep also `#<job num>` and the values this job sweeps (e.g. hw.hbm_gib=64)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    model = OmegaConf.select(cfg, "model.name") or experiment_name(cfg)
    name = f"{result.get('task') or OmegaConf.select(cfg, 'task.name') or 'run'}-{model}"
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        hc = HydraConfig.get()
        swept = set(OmegaConf.select(hc, "sweeper.params", default=None) or {})
        sweep_file = Path(str(hc.sweep.dir)) / "multirun.yaml"  # the sweep's command line (basic sweeper)
        if sweep_file.is_file():
            line = OmegaConf.select(OmegaConf.load(sweep_file), "hydra.overrides.task", default=None) or []
            swept |= {str(o).split("=", 1)[0] for o in line if _is_sweep(str(o).split("=", 1)[-1])}
        mine = [str(o) for o in OmegaConf.select(hc, "overrides.task", default=None) or []
                if str(o).split("=", 1)[0] in swept]
        name += f" #{OmegaConf.select(hc, 'job.num', default='')} {','.join(mine)}"
    return name.rstrip()


def _is_sweep(value: str) -> bool:
    """`a,b` or a sweep function; a list or dict value (`[1,2]`) is one value, not a sweep."""
    return value.startswith(SWEEP_FUNCTIONS) or ("," in value and not value.startswith(("[", "{")))


def group_choices(cfg: DictConfig) -> dict[str, str]:
    """Hydra's `runtime.choices` (without hydra/* groups) when available, else each section's `name`."""
    from hydra.core.hydra_config import HydraConfig

    choices = OmegaConf.select(cfg, "hydra.runtime.choices")  # a config composed with its hydra node
    if choices is None and HydraConfig.initialized():
        choices = HydraConfig.get().runtime.choices
    if choices is not None:
        return {str(k): str(v) for k, v in choices.items()
                if v is not None and not str(k).startswith(("hydra/", "schema/"))}
    return {str(k): str(v.name) for k, v in cfg.items() if isinstance(v, DictConfig) and v.get("name")}


def job_tags(cfg: DictConfig, out_dir: Path, result: Mapping[str, Any]) -> dict[str, Any]:
    """Provenance from the result, else from result.json on disk, else recomputed from the config."""
    prov = {k: result.get(k) for k in ("phaze_version", "git_commit", "config_hash")}
    on_disk = out_dir / "result.json"
    if None in prov.values() and on_disk.is_file():
        stored = json.loads(on_disk.read_text())
        prov = {k: stored.get(k) if v is None else v for k, v in prov.items()}
    if None in prov.values():
        prov = {k: provenance(cfg).get(k) if v is None else v for k, v in prov.items()}
    return group_choices(cfg) | prov | {"task": result.get("task"), "run_dir": str(out_dir),
                                         "mlflow.source.git.commit": prov["git_commit"]}


__all__ = ["group_choices", "job_tags", "run_name"]
