"""Every config file composes, and its typed schema holds (lightning-hydra-template style)."""

from __future__ import annotations

import pytest
from conftest import CONF, compose_cfg
from omegaconf import OmegaConf

from phaze.config import validate

GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir())


@pytest.mark.parametrize(("group", "choice"), [(g, p.stem) for g in GROUPS for p in sorted((CONF / g).glob("*.yaml"))])
def test_every_config_composes_and_validates(group: str, choice: str) -> None:
    # task=evaluate needs a fixed design; every other choice composes with the defaults
    extra = ["hw=tpuv4"] if (group, choice) == ("task", "evaluate") else []
    cfg = compose_cfg([f"{group}={choice}", *extra])
    OmegaConf.resolve(cfg)
    validate(cfg)


def test_default_config_is_the_documented_one() -> None:
    cfg = compose_cfg()
    assert cfg.model.name == "opt13b"
    assert cfg.task.name == "inspect"
