"""Shared test helpers: compose configs the way the app does, run the CLI in a subprocess."""

from __future__ import annotations

import csv
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from phaze.config import register_schemas
from phaze.config.model import ModelConfig

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "phaze" / "conf"
DATA = Path(__file__).resolve().parent / "data"
STARTUP_LIMIT_S = 180  # mlflow server imports FastAPI and migrates its schema: ~10-30 s on 2 busy cores
POLL_S = 0.25

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


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/<name>.py as a module, as when run from there (benchmarks import each other: crosscheck_zigzag
    imports crosscheck_scalesim's adapter, energy_check imports crosscheck_zigzag)."""
    bench = ROOT / "benchmarks"
    if str(bench) not in sys.path:
        sys.path.insert(0, str(bench))
    spec = importlib.util.spec_from_file_location(name, bench / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "phaze", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout, check=False)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real `mlflow server` on 127.0.0.1 (a free port, a sqlite store and artifacts in tmp): (url, tmp).
    Stopped at the module's teardown."""
    tmp = tmp_path_factory.mktemp("server")
    url = f"http://127.0.0.1:{free_port()}"
    log = (tmp / "server.log").open("w")
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no background job runner process
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1],
           "--backend-store-uri", f"sqlite:///{tmp}/db", "--artifacts-destination", str(tmp / "art"),
           "--workers", "1"]
    # Own session: teardown signals this server's process group (it forks uvicorn) and nothing else.
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while not healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (tmp / "server.log").read_text()[-2000:]
                pytest.fail(f"mlflow server did not answer /health at {url}: {tail}")
            time.sleep(POLL_S)
        yield url, tmp
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
        log.close()
