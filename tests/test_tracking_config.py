"""The `tracking` group: YAML files agree with the schema, and every bad field is a one-line ConfigError."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from phaze.config.errors import ConfigError
from phaze.config.tracking import TrackingConfig, validate
from phaze.tracking.session import artifact_location, experiment_name

CONF = Path(__file__).resolve().parent.parent / "phaze" / "conf"

# The lead's register_schemas() stores it too; storing the same node twice is harmless.
ConfigStore.instance().store(group="schema/tracking", name="base", node=TrackingConfig)


def compose_group(name: str) -> TrackingConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name=f"tracking/{name}")
    return OmegaConf.to_object(cfg.tracking)  # type: ignore[return-value]


def test_mlflow_yaml_is_the_schema_default() -> None:
    cfg = compose_group("mlflow")
    assert cfg == TrackingConfig()
    assert cfg.uri == "sqlite:///outputs/mlflow.db"
    assert (cfg.http_timeout_s, cfg.http_max_retries, cfg.children_top_k) == (10, 2, 10)
    validate(cfg)


def test_none_yaml_switches_tracking_off() -> None:
    cfg = compose_group("none")
    assert cfg.name == "none"
    validate(cfg)


@pytest.mark.parametrize(("field", "value"), [
    ("name", "wandb"), ("uri", "outputs/mlflow.db"), ("artifact_root", " "), ("experiment", ""),
    ("http_timeout_s", 0), ("http_timeout_s", True), ("http_max_retries", -1), ("http_max_retries", 11),
    ("children_top_k", -1), ("log_candidate_steps", "yes"),
])
def test_bad_field_names_field_and_value(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as err:
        validate(replace(TrackingConfig(), **{field: value}))
    assert err.value.field == f"tracking.{field}"
    assert err.value.value == value
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("uri", [
    "sqlite:////abs/mlflow.db", "http://127.0.0.1:5000", "https://mlflow.example.org", "postgresql://u@h/db",
    "databricks"])
def test_accepts_mlflow_uris(uri: str) -> None:
    validate(replace(TrackingConfig(), uri=uri))


def test_experiment_name_precedence() -> None:
    cfg = OmegaConf.create({"model": {"name": "opt13b"}, "tracking": OmegaConf.structured(TrackingConfig())})
    assert experiment_name(cfg) == "opt13b"
    cfg.experiment_name = "paper_llms"
    assert experiment_name(cfg) == "paper_llms"
    cfg.tracking.experiment = "mine"
    assert experiment_name(cfg) == "mine"


def test_artifact_location_absolute_under_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    local = TrackingConfig()
    expected = (tmp_path / "outputs/mlflow-artifacts/paper_llms").as_uri()
    assert artifact_location(local, "paper llms") == expected
    # A server keeps artifacts in its own store unless the root is itself a URI.
    server = replace(local, uri="http://127.0.0.1:5000")
    assert artifact_location(server, "x") is None
    s3 = replace(server, artifact_root="s3://bucket/phaze/")
    assert artifact_location(s3, "x") == "s3://bucket/phaze/x"
