"""Schema of the `solver` group: how each layer's operator schedule is computed (DESIGN §6).

`cpsat` solves the scheduling model of DESIGN §6 with OR-Tools CP-SAT; `greedy` keeps the critical-path
list schedule (and its proven gap to the lower bound). Budgets are *deterministic* time (CP-SAT's
work-based clock), so the same config gives the same schedule on any machine and load; the wall-clock
`max_time_in_seconds` is off by default and, when it is set and stops a solve, the result is marked
`reproducible: false` (DESIGN §10).
"""

from __future__ import annotations

from dataclasses import dataclass

from phaze.config.errors import ConfigError

SOLVERS = ("cpsat", "greedy")
LINEARIZATION_LEVELS = (0, 1, 2)


@dataclass
class SolverConfig:
    name: str = "cpsat"
    # CP-SAT deterministic-time budget per (candidate, layer, pass), in CP-SAT's deterministic seconds.
    max_deterministic_time: float = 1.0
    # Wall-clock safety net in seconds; null = off. When set, non-optimal results are not reproducible.
    max_time_in_seconds: float | None = None
    workers: int = 1  # CP-SAT num_workers; > 1 needs interleave_search for bit-identical results
    seed: int = 0  # CP-SAT random_seed
    hint: bool = True  # give CP-SAT the greedy schedule as a solution hint (cuts solve time several-fold)
    interleave_search: bool = False  # deterministic multi-worker search (CP-SAT interleave_search)
    # CP-SAT linearization_level: 0 = no LP relaxation. Measured on 20 open backward blocks each of
    # llama2_7b / gpt3_175b (default space, budget 1): 0 proves 45% / 60% optimal, CP-SAT's default 1
    # only 30% / 45%, with the same or better schedules — the LP's energy cuts are weak on these models.
    linearization_level: int = 0


def validate(cfg: SolverConfig) -> None:
    """Field rules of the solver group; the first violation raises a one-line ConfigError."""
    if cfg.name not in SOLVERS:
        raise ConfigError("solver.name", cfg.name, f"one of {', '.join(SOLVERS)}")
    budget = cfg.max_deterministic_time
    if isinstance(budget, bool) or not isinstance(budget, int | float) or not budget > 0:
        raise ConfigError("solver.max_deterministic_time", budget, "a positive number (deterministic s)")
    wall = cfg.max_time_in_seconds
    if wall is not None and (isinstance(wall, bool) or not isinstance(wall, int | float) or not wall > 0):
        raise ConfigError("solver.max_time_in_seconds", wall, "null or a positive number of seconds")
    if isinstance(cfg.workers, bool) or not isinstance(cfg.workers, int) or cfg.workers < 1:
        raise ConfigError("solver.workers", cfg.workers, "a positive integer")
    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise ConfigError("solver.seed", cfg.seed, "a non-negative integer")
    if isinstance(cfg.linearization_level, bool) or cfg.linearization_level not in LINEARIZATION_LEVELS:
        raise ConfigError("solver.linearization_level", cfg.linearization_level,
                          f"one of {', '.join(map(str, LINEARIZATION_LEVELS))}")
    for name in ("hint", "interleave_search"):
        if not isinstance(getattr(cfg, name), bool):
            raise ConfigError(f"solver.{name}", getattr(cfg, name), "true or false")


def is_deterministic(cfg: SolverConfig) -> bool:
    """Bit-identical CP-SAT results need one worker or the interleaved (deterministic) search."""
    return cfg.workers == 1 or cfg.interleave_search
