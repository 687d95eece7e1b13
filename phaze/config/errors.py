"""The one error type a user ever sees: a bad config field, reported in one line."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A user error in the configuration; the entry point prints `str(err)` on one line and exits 2.

    The message always names the field, the offending value and what is allowed, so the user can fix
    the YAML or the override without reading code.
    """

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"invalid config: {field}={value!r}: {allowed}")
