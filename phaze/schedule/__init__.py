"""Per-layer operator schedule on one accelerator (DESIGN §6): greedy and lower bounds vectorised over a
hardware space, a per-candidate phase bound and CP-SAT where greedy does not meet the bound, a plain-Python
checker, a content cache."""

from phaze.schedule.bound import bound_space
from phaze.schedule.bound_ref import bound_instance
from phaze.schedule.cache import ScheduleCache, instance_key
from phaze.schedule.check import ScheduleError, check_schedule
from phaze.schedule.greedy import GreedyResult, greedy_space
from phaze.schedule.greedy_ref import greedy_best, greedy_instance
from phaze.schedule.instance import Instance
from phaze.schedule.modes import MODE_INTRA, MODE_SINGLE
from phaze.schedule.problem import Problem, build_problem, make_problem
from phaze.schedule.result import FEASIBLE, INFEASIBLE, OPTIMAL, Schedule
from phaze.schedule.solve import SpaceSchedule, schedule_layer, schedule_space, solve_candidate
from phaze.schedule.units import INFEASIBLE_NS, NS_PER_S, to_ns

__all__ = [
    "FEASIBLE",
    "INFEASIBLE",
    "INFEASIBLE_NS",
    "MODE_INTRA",
    "MODE_SINGLE",
    "NS_PER_S",
    "OPTIMAL",
    "GreedyResult",
    "Instance",
    "Problem",
    "Schedule",
    "ScheduleCache",
    "ScheduleError",
    "SpaceSchedule",
    "bound_instance",
    "bound_space",
    "build_problem",
    "check_schedule",
    "greedy_best",
    "greedy_instance",
    "greedy_space",
    "instance_key",
    "make_problem",
    "schedule_layer",
    "schedule_space",
    "solve_candidate",
    "to_ns",
]
