"""Where a model's fields come from when they are not written out in YAML: a config.json or an ONNX export.

`fill_model_fields` runs once per job, before validation (phaze/__main__.py): under `model=hf` or
`model=onnx` every architecture field is filled in place from the file, except a field the user set by a
command-line override, which keeps the user's value (`model=hf model.hf_config=... model.layers=4`
is a 4-layer variant), the rest are the file's. Because the composed config itself is filled, the run's
config.resolved.yaml, its config hash and its MLflow parameters record the mapped hyper-parameters: the
experiment stays shareable as config.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from phaze.config.errors import ConfigError
from phaze.model.hf_config import hf_model_fields, hf_model_name, read_hf_config

SOURCES = {"hf": "hf_config", "onnx": "onnx_path"}  # model choice -> the key naming its file
WHAT = {"hf_config": "a Hugging Face config.json", "onnx_path": "an ONNX file (torch.onnx.export)"}


def override_keys(overrides: list[str]) -> set[str]:
    """The `model.<key>`s set on the command line (`model.layers=4`, `+model.x=1`, `++model.x=1`)."""
    keys = set()
    for text in overrides:
        key = text.split("=", 1)[0].lstrip("+~")
        if key.startswith("model."):
            keys.add(key.removeprefix("model.").split(".", 1)[0])
    return keys


def fill_model_fields(cfg: DictConfig, choice: str | None, overrides: list[str]) -> None:
    """Fill `cfg.model` from model.hf_config or model.onnx_path (module doc): every field but those in the
    command-line `overrides`; `choice` is the model group's selected file (hf, onnx or a YAML model)."""
    model = cfg.model
    if choice is None:  # composed without Hydra's runtime (a test): the set source key decides
        choice = next((c for c, k in SOURCES.items() if model.get(k) is not None), None)
    user = override_keys(overrides)
    for other, key in SOURCES.items():  # in a YAML model (a saved config.resolved.yaml) the key is provenance
        if other != choice and model.get(key) is not None and (key in user or choice in SOURCES):
            raise ConfigError(f"model.{key}", model.get(key), f"set with model={other}, not model={choice}")
    if choice not in SOURCES:
        return
    key = SOURCES[choice]
    if model.get(key) is None:
        raise ConfigError(f"model.{key}", None, f"the path of {WHAT[key]}, e.g. model={choice} model.{key}=PATH")
    path = str(model[key])
    if key == "hf_config":
        data = read_hf_config(path)
        fields, window = hf_model_fields(data, path)
        name: str | None = hf_model_name(data, path)
    else:
        from phaze.model.onnx_import import onnx_model_fields  # the onnx package loads only for model=onnx

        fields, window = onnx_model_fields(path), None
        name = Path(path).stem
    for field, value in fields.items():
        if field not in user:
            model[field] = value
    if "name" not in user and name:
        model.name = name
    if window is not None and model.seq_len > window:
        raise ConfigError("model.seq_len", model.seq_len, f"at most the config.json's sliding_window={window} "
                          "(sliding-window attention is not supported)")
