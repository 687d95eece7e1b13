"""Hydra entry point: `python -m phaze` or the `phaze` console script; dispatches on `task.name`.

User errors (ConfigError) print one line on stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from phaze.config import CONF_DIR, ConfigError, register_schemas, validate
from phaze.config.preflight import check_overrides
from phaze.model.sources import fill_model_fields

EXIT_CONFIG_ERROR = 2

register_schemas()


def _model_source() -> tuple[str | None, list[str]]:
    """The model group's chosen file and the command-line overrides, from Hydra's runtime (if any)."""
    if not HydraConfig.initialized():
        return None, []
    hc = HydraConfig.get()
    return hc.runtime.choices.get("model"), list(hc.overrides.task)


def run_task(cfg: DictConfig, out_dir: Path) -> dict:
    fill_model_fields(cfg, *_model_source())  # model=hf / model=onnx: fields from the file (phaze/model/sources.py)
    validate(cfg)
    if cfg.task.name == "inspect":
        from phaze.tasks import inspect

        return inspect.run(cfg, out_dir)
    if cfg.task.name == "search":
        from phaze.tasks import search

        return search.run(cfg, out_dir)
    if cfg.task.name == "merge":
        from phaze.tasks import merge

        return merge.run(cfg, out_dir)
    if cfg.task.name == "evaluate":
        from phaze.tasks import evaluate

        return evaluate.run(cfg, out_dir)
    raise ConfigError("task.name", cfg.task.name, "a task with a runner")


def track(cfg: DictConfig, out_dir: Path, result: dict) -> None:
    """After the files: log to the tracking backend (never fails the run, DESIGN §1)."""
    if cfg.tracking.name == "none":
        return
    import pandas as pd

    from phaze.tracking.files import run_artifacts
    from phaze.tracking.mlflow_log import log_run
    from phaze.tracking.session import warn_failure

    table = out_dir / "candidates.parquet"
    try:
        candidates = pd.read_parquet(table) if table.is_file() else None
    except Exception as exc:  # a tracking problem never fails the run (DESIGN §1)
        warn_failure(exc, out_dir)
        return
    log_run(cfg, out_dir, result, candidates, run_artifacts(out_dir))


def enter_start_dir() -> None:
    """Relative paths in the config (search.cache_dir, tracking.uri, ...) are relative to the directory phaze
    was started in (`hydra.runtime.cwd`, recorded by the launching process). A job that runs elsewhere, as in a
    worker of the Hydra Ray launcher (whose directory is where `ray start` ran), moves there when it exists."""
    start = str(HydraConfig.get().runtime.cwd or "")
    if start and os.path.isdir(start) and os.path.realpath(start) != os.path.realpath(os.getcwd()):
        os.chdir(start)


@hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")
def app(cfg: DictConfig) -> None:
    enter_start_dir()
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        result = run_task(cfg, out_dir)
    except ConfigError as err:
        print(f"phaze: {err}", file=sys.stderr)
        sys.exit(EXIT_CONFIG_ERROR)
    track(cfg, out_dir, result)


def main() -> None:
    """Overrides are checked first so that a bad one is one line (`config/preflight.py`), then Hydra runs."""
    bad = check_overrides(sys.argv[1:], Path(CONF_DIR))
    if bad is not None:
        print(f"phaze: {bad}", file=sys.stderr)
        sys.exit(EXIT_CONFIG_ERROR)
    app()


if __name__ == "__main__":
    main()
