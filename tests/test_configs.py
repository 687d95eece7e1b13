"""Every config file composes, and its typed schema holds (lightning-hydra-template style)."""

from __future__ import annotations

import pytest
from conftest import CONF, compose_cfg
from omegaconf import OmegaConf

from phaze.config import validate

GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir())


@pytest.mark.parametrize(("group", "choice"), [(g, p.stem) for g in GROUPS for p in sorted((CONF / g).glob("*.yaml"))])
def test_every_config_composes_and_validates(group: str, choice: str) -> None:
    # the defaults run task=search on hw=search; a fixed design belongs to task=evaluate, merge needs dirs
    extra = {("task", "evaluate"): ["hw=tpuv4"], ("task", "merge"): ["merge.dirs=[run0,run1]"]}.get((group, choice))
    if extra is None:
        extra = ["task=evaluate"] if group == "hw" and choice != "search" else []
    override = f"+{group}={choice}" if group == "experiment" else f"{group}={choice}"
    cfg = compose_cfg([override, *extra])
    OmegaConf.resolve(cfg)
    validate(cfg)


def test_default_config_is_the_documented_one() -> None:
    cfg = compose_cfg()
    assert cfg.model.name == "opt13b"
    assert cfg.task.name == "search" and cfg.hw.name == "search" and cfg.solver.name == "cpsat"
