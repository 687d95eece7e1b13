"""The job run's MLflow name and tags, derived from the config, Hydra's runtime and the result (DESIGN §8).

Separate from `mlflow_log.py` because it only reads Hydra and the run directory and never talks to
MLflow: the sweep callback needs the same group choices for the parent run's tags, and `mlflow_log` keeps
to the client calls.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from phaze.tracking.files import provenance
from phaze.tracking.session import experiment_name

SWEEP_FUNCTIONS = ("range(", "choice(", "interval(", "glob(")  # Hydra's sweep override syntax
COLOR_TAG = "mlflow.runColor"  # MLflow's own tag: the run's colour in the table and in every chart
# One colour per kind of run (Tableau 10, plus a grey for ordinary candidates), so a chart tells a baseline
# from a searched design without a legend. A baseline not listed takes one of FALLBACK_COLORS by name.
KIND_COLORS = {"sweep": "#7f7f7f", "job": "#000000", "search": "#a5b4c4", "pareto": "#1f77b4",
               "tpuv4": "#d62728", "tpuv4_phaze": "#ff7f0e", "spotlight": "#9467bd", "spotlight_oracle": "#e377c2"}
FALLBACK_COLORS = ("#8c564b", "#bcbd22", "#17becf", "#2ca02c")
VARIANT_HBM = re.compile(r"^at_(\d+(?:\.\d+)?)_gib$")  # phaze.search.baselines: at_<baseline_hbm_gib>_gib


def run_color(kind: str) -> str:
    if kind in KIND_COLORS:
        return KIND_COLORS[kind]
    return FALLBACK_COLORS[zlib.crc32(kind.encode()) % len(FALLBACK_COLORS)]


def gib(value: float) -> str:
    return f"{float(value):g} GiB"


def candidate_name(rank: int, row: Mapping[str, Any], hbm_gib: float) -> str:
    """`#1 4096x2x32 tc, 2048x2 vc, 2 MiB @80 GiB`: rank, n_tc x W x D tensor cores, n_vc x W_vc vector
    cores, global buffer, at the job's HBM capacity (the enumeration index is a tag, not a name)."""
    return (f"#{rank} {row['n_tc']}x{row['tc_width']}x{row['tc_depth']} tc, {row['n_vc']}x{row['vc_width']} vc, "
            f"{float(row['glb_mib']):g} MiB @{gib(hbm_gib)}")


def variant_hbm(variant: str) -> float | None:
    """The HBM capacity of a baseline variant key (`at_32_gib` -> 32.0); None for another key."""
    match = VARIANT_HBM.match(variant)
    return float(match.group(1)) if match else None


def baseline_name(name: str, hbm_gib: float | None) -> str:
    return name if hbm_gib is None else f"{name} @{gib(hbm_gib)}"


def swept_values(config: DictConfig) -> dict[str, str]:
    """What a sweep sweeps: `hydra.sweeper.params`, overridden by the command line's sweep overrides."""
    swept: dict[str, str] = {}
    sweeper = OmegaConf.select(config, "hydra.sweeper.params")
    if sweeper is not None:
        swept |= {str(k): str(v) for k, v in OmegaConf.to_container(sweeper, resolve=False).items()}
    for override in OmegaConf.select(config, "hydra.overrides.task", default=None) or []:
        key, _, value = str(override).partition("=")
        if _is_sweep(value):
            swept[key] = value
    return swept


def sweep_name(config: DictConfig, fallback: str) -> str:
    """`sweep hw.hbm_gib=32,64,80` (every swept key and its values); `sweep <dir>` when nothing is swept."""
    swept = swept_values(config)
    return "sweep " + (" ".join(f"{k}={v}" for k, v in swept.items()) if swept else fallback)


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
    hbm = OmegaConf.select(cfg, "hw.hbm_gib")
    return group_choices(cfg) | prov | {"task": result.get("task"), "run_dir": str(out_dir),
                                         "mlflow.source.git.commit": prov["git_commit"],
                                         "hbm_gib": None if hbm is None else f"{float(hbm):g}",
                                         COLOR_TAG: run_color("job")}


__all__ = ["COLOR_TAG", "baseline_name", "candidate_name", "group_choices", "job_tags", "run_color", "run_name",
           "sweep_name", "variant_hbm"]
