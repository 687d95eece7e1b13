"""Command-line overrides checked before Hydra composes them, so that a bad one is reported in one line.

Why: Hydra itself rejects an unknown config choice (`model=gpt5`), an unknown key or a value of the wrong
type before any phaze code runs, and reports it over many lines (the whole option list, the config search
path, a hint about HYDRA_FULL_ERROR). This check runs first and returns the same one-line `ConfigError` as
every other bad field: the field, the value, and what is allowed. It composes the config once, as Hydra will
(about 0.1 s), with the same search path. Anything it cannot judge (command-line flags other than -m,
override syntax errors, the keys and types of each job of a sweep) is left to Hydra unchanged.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException, MissingConfigException

from phaze.config.errors import ConfigError

MULTIRUN_FLAGS = ("-m", "--multirun")


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
    object_type = getattr(cause, "object_type", None)
    key = str(full_key).rsplit(".", 1)[-1]
    value = values.get(str(full_key), values.get(str(full_key).lstrip("+"), ""))
    if type(cause).__name__ == "ConfigAttributeError" and dataclasses.is_dataclass(object_type):
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
    """Each choice of a swept config group must exist (checked against conf/ unless a search path adds more)."""
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


def check_overrides(argv: list[str], conf_dir: Path, config_name: str = "config") -> ConfigError | None:
    """The first bad override in `argv` (the arguments after the program name) as a ConfigError, or None."""
    if any(a.startswith("-") and a not in MULTIRUN_FLAGS for a in argv):
        return None  # --help, --cfg, -cn ...: Hydra's own business
    texts = [a for a in argv if a not in MULTIRUN_FLAGS]
    try:
        overrides = OverridesParser.create().parse_overrides(texts)
    except HydraException:
        return None  # a syntax error: Hydra's message points at the character
    if any(o.is_sweep_override() for o in overrides):
        return _sweep_choices(overrides, conf_dir)  # the types of each job are left to Hydra
    values = {o.key_or_group: o.get_value_element_as_str() for o in overrides if not o.is_delete()}
    try:
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            compose(config_name=config_name, overrides=texts)
    except MissingConfigException as exc:
        return _missing_choice(exc)
    except HydraException as exc:
        return _composition_error(exc, values)
    except Exception:  # anything else is reported by Hydra, as before this check existed
        return None
    return None
