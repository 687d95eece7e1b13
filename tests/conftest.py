"""Shared test helpers: compose configs the way the app does, run the CLI in a subprocess."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from phaze.config import register_schemas
from phaze.config.model import ModelConfig

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "phaze" / "conf"
DATA = Path(__file__).resolve().parent / "data"

register_schemas()


def compose_cfg(overrides: list[str] | None = None) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=overrides or [])


def model_cfg(name: str, *overrides: str) -> ModelConfig:
    cfg = compose_cfg([f"model={name}", *overrides])
    return OmegaConf.to_object(cfg.model)  # type: ignore[return-value]


def read_csv(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="") as fh:
        return list(csv.DictReader(fh))


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "phaze", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout, check=False)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"
