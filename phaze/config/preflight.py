"""Command-line overrides checked before Hydra composes them, so that a bad one is reported in one line.

Why: Hydra itself rejects an unknown config choice (`model=gpt5`), an unknown key or a value of the wrong
type before any phaze code runs, and reports it over many lines (the whole option list, the config search
path, a hint about HYDRA_FULL_ERROR). This check runs first and returns the same one-line `ConfigError` as
every other bad field: the field, the value, and what is allowed. It composes each run's config once, as
Hydra will (about 0.1 s), with the same search path. A sweep of more than MAX_SWEEP_JOBS_CHECKED jobs is
composed on a covering set instead: job i takes the i-th value of every swept key (cycling through the shorter
ones), so every value of every key is composed once, with some value of the others; that finds a bad value
in any job unless it is bad only in combination. Anything it cannot judge (command-line flags other than -m,
override syntax errors, sweeps it cannot enumerate) is left to Hydra unchanged.
"""

from __future__ import annotations

import dataclasses
from itertools import product
from math import prod
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException, MissingConfigException
from omegaconf.errors import ConfigAttributeError

from phaze.config.errors import ConfigError

MULTIRUN_FLAGS = ("-m", "--multirun")
# A command-line sweep of up to this many jobs is composed job by job (about 0.1 s each) before it starts;
# a larger one on a covering set of jobs (module doc), if its longest swept key has at most this many values.
MAX_SWEEP_JOBS_CHECKED = 32


def _group_choices(conf_dir: Path, group: str) -> list[str] | None:
    """The YAML choices of config group `group`, or None when it is not a group folder."""
    folder = conf_dir / group
    if not folder.is_dir():
        return None
    return sorted(p.stem for p in folder.glob("*.yaml"))


def _field_type(object_type: Any, key: str) -> str | None:
    if not dataclasses.is_dataclass(object_type):
        return None
    for f in dataclasses.fields(object_type):
        if f.name == key:
            return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    return None


def _composition_error(exc: Exception, values: dict[str, str]) -> ConfigError | None:
    """The one-line form of Hydra's report on a bad key or value, from the OmegaConf error behind it."""
    cause = exc.__cause__
    full_key = getattr(cause, "full_key", None)
    if not full_key:
        return None
    value = values.get(str(full_key))
    if value is None:
        return None  # the bad value comes from a YAML file: Hydra's report names the file
    object_type = getattr(cause, "object_type", None)
    key = str(full_key).rsplit(".", 1)[-1]
    if isinstance(cause, ConfigAttributeError) and dataclasses.is_dataclass(object_type):
        known = ", ".join(f.name for f in dataclasses.fields(object_type))
        return ConfigError(str(full_key), value, f"not a key of {object_type.__name__}; its keys: {known}")
    expected = _field_type(object_type, key)
    if expected is not None:
        return ConfigError(str(full_key), value, f"a value of type {expected}")
    message = str(getattr(cause, "msg", "")).splitlines()
    return ConfigError(str(full_key), value, message[0] if message else "a valid value")


def _missing_choice(exc: MissingConfigException) -> ConfigError | None:
    group, _, value = str(exc.missing_cfg_file or "").rpartition("/")
    if not group or not exc.options:
        return None
    return ConfigError(group, value, f"one of {', '.join(exc.options)}")


def _sweep_choices(overrides: list[Override], conf_dir: Path) -> ConfigError | None:
    """Each choice of a swept config group must exist (checked against phaze/conf/ unless a search path adds more)."""
    if any(o.key_or_group == "hydra.searchpath" for o in overrides):
        return None
    for o in overrides:
        choices = _group_choices(conf_dir, o.key_or_group)
        if choices is None or o.is_delete() or not o.is_sweep_override():
            continue
        for value in o.sweep_string_iterator():
            if value not in choices:
                return ConfigError(o.key_or_group, value, f"one of {', '.join(choices)}")
    return None


def _jobs(overrides: list[Override], texts: list[str]) -> list[list[str]] | None:
    """One override list per job of a command-line sweep (the Cartesian product Hydra's basic sweeper runs),
    or, above MAX_SWEEP_JOBS_CHECKED jobs, of a covering set of them (module doc); None for a sweep it cannot
    enumerate or whose longest swept key has more than MAX_SWEEP_JOBS_CHECKED values."""
    axes: list[list[str]] = []
    for o, text in zip(overrides, texts, strict=True):
        if not o.is_sweep_override():
            axes.append([text])
            continue
        if o.key_or_group.startswith("hydra"):
            return None
        try:
            values = list(o.sweep_string_iterator())
        except Exception:  # an interval or other non-enumerable sweep (for an optimising sweeper)
            return None
        key = text.split("=", 1)[0]  # keeps a leading + / ++
        axes.append([f"{key}={v}" for v in values])
    if prod(len(axis) for axis in axes) <= MAX_SWEEP_JOBS_CHECKED:
        return [list(job) for job in product(*axes)]
    longest = max(len(axis) for axis in axes)
    if longest > MAX_SWEEP_JOBS_CHECKED:
        return None
    return [[axis[i % len(axis)] for axis in axes] for i in range(longest)]


def _compose_error(texts: list[str], conf_dir: Path, config_name: str) -> ConfigError | None:
    """Compose one run's config as Hydra will; its first rejected override as a ConfigError, else None."""
    try:
        overrides = OverridesParser.create().parse_overrides(texts)
        values = {o.key_or_group: o.get_value_element_as_str() for o in overrides if not o.is_delete()}
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            compose(config_name=config_name, overrides=texts)
    except MissingConfigException as exc:
        return _missing_choice(exc)
    except HydraException as exc:
        return _composition_error(exc, values)
    except Exception:  # anything else is reported by Hydra, as before this check existed
        return None
    return None


def check_overrides(argv: list[str], conf_dir: Path, config_name: str = "config") -> ConfigError | None:
    """The first bad override in `argv` (the arguments after the program name) as a ConfigError, or None.

    A command-line sweep is checked job by job (a large one on a covering set of jobs), so that a typo in its
    last job stops the run before the first job starts; a sweep it cannot enumerate has only its config-group
    choices checked.
    """
    if any(a.startswith("-") and a not in MULTIRUN_FLAGS for a in argv):
        return None  # --help, --cfg, -cn ...: Hydra's own business
    texts = [a for a in argv if a not in MULTIRUN_FLAGS]
    try:
        overrides = OverridesParser.create().parse_overrides(texts)
    except HydraException:
        return None  # a syntax error: Hydra's message points at the character
    jobs = _jobs(overrides, texts) if any(o.is_sweep_override() for o in overrides) else [texts]
    if jobs is None:
        return _sweep_choices(overrides, conf_dir)
    for job in jobs:
        if (bad := _compose_error(job, conf_dir, config_name)) is not None:
            return bad
    return None
