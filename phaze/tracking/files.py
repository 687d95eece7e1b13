"""Result files written into the run directory before any tracking backend is touched (DESIGN §1).

`result.json` holds no wall-clock, host or date fields, so the same config gives a byte-identical file;
`timings.json` holds the wall-clock figures; `config.resolved.yaml` is the config with every interpolation
resolved (Hydra's own `.hydra/config.yaml` keeps them).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import phaze
from phaze.atomic_file import write_atomic


def resolved_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)


# Settings that cannot change the answer: how many processes and where they run, the progress bar, where caches
# and tracking go.
NON_SEMANTIC = {"search": ("workers", "executor", "ray_address", "progress", "cache_dir"), "tracking": None}


def config_hash(cfg: DictConfig) -> str:
    """A short content hash of the resolved config minus the settings that cannot change the answer: the
    identity of a run's answer, and the name of its cache directory (DESIGN §8)."""
    data = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(data, dict)
    for group, keys in NON_SEMANTIC.items():
        if keys is None:
            data.pop(group, None)
        elif isinstance(data.get(group), dict):
            for key in keys:
                data[group].pop(key, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def git_commit() -> str | None:
    """The commit of the phaze checkout, when it is one; None for an installed copy (site-packages has no
    pyproject.toml, and may sit inside some other git repository, whose commit is not phaze's)."""
    root = Path(phaze.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def provenance(cfg: DictConfig) -> dict[str, Any]:
    return {"phaze_version": phaze.__version__, "git_commit": git_commit(), "config_hash": config_hash(cfg)}


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Deterministic JSON (sorted keys, fixed indentation), written atomically and durably (`write_atomic`)."""
    return write_atomic(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_run_files(out_dir: Path, cfg: DictConfig, result: dict[str, Any], timings: dict[str, float]) -> list[Path]:
    """result.json, timings.json and config.resolved.yaml; returns the paths (result.json first)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.resolved.yaml").write_text(resolved_yaml(cfg))
    return [write_json(out_dir / "result.json", {**provenance(cfg), **result}),
            write_json(out_dir / "timings.json", timings), out_dir / "config.resolved.yaml"]


def run_artifacts(out_dir: Path) -> list[Path]:
    """The run directory's result files that exist, in a fixed order (what tracking uploads)."""
    names = ("result.json", "candidates.parquet", "pareto.png", "time_split.png", "energy_split.png",
             "config.resolved.yaml", "timings.json")
    return [out_dir / n for n in names if (out_dir / n).is_file()]
