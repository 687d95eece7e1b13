"""The Pareto plot: training throughput against chip area, and against power per chip, for every searched
candidate (DESIGN §1, §8).

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global state), and saved
without the PNG "Software" text chunk so that the same inputs give a byte-identical file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike, NDArray

FIG_SIZE_IN = (8.0, 5.5)  # one panel; two panels (area and power) are twice as wide
DPI = 150
LOG_Y_SPAN = 100.0  # a log throughput axis when the plotted values span more than this factor
CANDIDATE_STYLE = {"s": 4, "color": "0.7", "alpha": 0.5, "linewidths": 0}
FRONT_COLOR = "tab:blue"
BUDGET_COLOR = "tab:red"
BUDGET_HEADROOM = 1.04  # the power axis reaches this far past the budget line
BASELINE_MARKERS = ("s", "^", "D", "v", "P", "X", "o", "<", ">")
BASELINE_COLORS = ("tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:pink", "tab:olive",
                   "tab:cyan", "black")
LABEL_OFFSET_PT = (7, 5)  # annotation offset from a baseline marker, in points (x flips near the right edge,
LABEL_RIGHT_EDGE = 0.8  # beyond this fraction of the largest x; y alternates so equal-x labels part)


def _usable(x: float | None) -> bool:
    return x is not None and bool(np.isfinite(x)) and x > 0


@dataclass(frozen=True)
class _Axis:
    """One panel's x quantity: its label, its unit in legend text, and what a baseline without it says."""

    label: str
    unit: str
    digits: str  # format of an x value in the legend
    missing: str  # legend text of a baseline that has no value on this axis (a GPU has no area)


AREA = _Axis("chip area (mm²)", "mm²", ".1f", "no area")
POWER = _Axis("power per chip (W, average over the iteration)", "W", ".1f", "no power")


def _panel(ax: Axes, x: NDArray[np.float64], thr: NDArray[np.float64], front: NDArray[np.int64],
           best: int | None, baselines: Mapping[str, tuple[float | None, float | None]], axis: _Axis,
           budget: tuple[float, str] | None = None, legend_size: float = 8, best_label: str = "best") -> list[float]:
    """Draw one front panel: candidates, the front's staircase, the best design, the baselines; returns the
    throughputs drawn (for the shared log-scale decision)."""
    ok = np.isfinite(x) & np.isfinite(thr) & (thr > 0)
    front = front[np.isfinite(x[front])] if front.size else front
    front = front[np.argsort(x[front], kind="stable")]
    ax.scatter(x[ok], thr[ok], label=f"candidates ({int(ok.sum()):,} feasible)", zorder=1, **CANDIDATE_STYLE)
    if front.size:
        ax.plot(x[front], thr[front], drawstyle="steps-post", color=FRONT_COLOR, lw=1.5, marker="o", ms=3,
                label=f"Pareto front ({front.size} designs)", zorder=3)
    star = front[-1] if best is None and front.size else best
    if star is not None and bool(ok[star]):
        label = f"{best_label}: {thr[star]:.4g} at {x[star]:{axis.digits}} {axis.unit}"
        ax.scatter([x[star]], [thr[star]], marker="*", s=160, color=FRONT_COLOR, edgecolors="black",
                   linewidths=0.6, zorder=5, label=label)

    xs = [b[0] for b in baselines.values() if b[0] is not None and np.isfinite(b[0])] + list(x[ok])
    right_edge = LABEL_RIGHT_EDGE * max(xs, default=0.0)
    extra_handles: list[Line2D] = []
    plotted = list(thr[ok])
    for k, (name, (b_x, b_thr)) in enumerate(baselines.items()):
        color, marker = BASELINE_COLORS[k % len(BASELINE_COLORS)], BASELINE_MARKERS[k % len(BASELINE_MARKERS)]
        if not _usable(b_thr):
            extra_handles.append(Line2D([], [], ls="none", marker=marker, mfc="none", color=color,
                                        label=f"{name}: infeasible"))
        elif b_x is None or not np.isfinite(b_x):
            ax.axhline(b_thr, color=color, ls="--", lw=1.2, zorder=2, label=f"{name}: {b_thr:.4g} ({axis.missing})")
            plotted.append(b_thr)
        else:
            ax.scatter([b_x], [b_thr], marker=marker, s=60, color=color, edgecolors="black",
                       linewidths=0.6, zorder=4, label=f"{name}: {b_thr:.4g} at {b_x:{axis.digits}} {axis.unit}")
            right = b_x > right_edge
            dx, dy = LABEL_OFFSET_PT[0] * (-1 if right else 1), LABEL_OFFSET_PT[1] * (1 if k % 2 == 0 else -2)
            ax.annotate(name, (b_x, b_thr), xytext=(dx, dy), textcoords="offset points", fontsize=8,
                        color=color, ha="right" if right else "left", va="center", zorder=6)
            plotted.append(b_thr)
    if budget is not None:
        ax.axvline(budget[0], color=BUDGET_COLOR, ls=":", lw=1.2, zorder=2, label=budget[1])
        ax.set_xlim(right=max(ax.get_xlim()[1], BUDGET_HEADROOM * budget[0]))  # the line inside the axes
    ax.set_xlabel(axis.label)
    ax.grid(True, which="major", color="0.9", lw=0.6, zorder=0)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + extra_handles, loc="best", fontsize=legend_size, framealpha=0.9)
    return plotted


def pareto_figure(area_mm2: ArrayLike, throughput: ArrayLike, front_idx: ArrayLike,
                  baselines: Mapping[str, tuple[float | None, float | None]], title: str, *,
                  throughput_label: str = "training throughput (samples/s)", power_w: ArrayLike | None = None,
                  power_front_idx: ArrayLike | None = None, baseline_power_w: Mapping[str, float | None] | None = None,
                  best_idx: int | None = None, best_label: str = "best", max_power_w: float | None = None) -> Figure:
    """The figure `pareto_plot` saves: one panel (throughput vs area), or with `power_w` two, side by side
    with a shared throughput axis: vs area (front `front_idx`) and vs power per chip (front
    `power_front_idx`, baselines at `baseline_power_w`, the budget `max_power_w` as a dotted line).
    `best_idx` is the design to star, labelled `best_label` (default: the area front's highest throughput)."""
    area = np.asarray(area_mm2, dtype=np.float64).reshape(-1)
    thr = np.asarray(throughput, dtype=np.float64).reshape(-1)
    front = np.asarray(front_idx, dtype=np.int64).reshape(-1)
    if area.shape != thr.shape:
        raise ValueError(f"area has {area.size} entries but throughput has {thr.size}")
    power = None if power_w is None else np.asarray(power_w, dtype=np.float64).reshape(-1)
    if power is not None and power.shape != thr.shape:
        raise ValueError(f"power has {power.size} entries but throughput has {thr.size}")

    width, height = FIG_SIZE_IN
    fig = Figure(figsize=(width * (1 if power is None else 2), height), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot()] if power is None else list(fig.subplots(1, 2, sharey=True))
    legend_size = 8 if power is None else 7
    plotted = _panel(axes[0], area, thr, front, best_idx, baselines, AREA, legend_size=legend_size,
                     best_label=best_label)
    if power is not None:
        watts = baseline_power_w or {}
        bases_w = {name: (watts.get(name), b_thr) for name, (_, b_thr) in baselines.items()}
        p_front = np.asarray([] if power_front_idx is None else power_front_idx, dtype=np.int64).reshape(-1)
        budget = None if max_power_w is None else (float(max_power_w),
                                                    f"power budget {max_power_w:g} W (on the peak)")
        plotted += _panel(axes[1], power, thr, p_front, best_idx, bases_w, POWER, budget, legend_size, best_label)
        axes[0].set_title("vs chip area", fontsize=10)
        axes[1].set_title("vs power per chip", fontsize=10)
        fig.suptitle(title)
    else:
        axes[0].set_title(title)
    if plotted and max(plotted) / min(plotted) > LOG_Y_SPAN:
        axes[0].set_yscale("log")  # shared: both panels
    axes[0].set_ylabel(throughput_label)
    fig.tight_layout()
    return fig


def pareto_plot(path: str | Path, area_mm2: ArrayLike, throughput: ArrayLike, front_idx: ArrayLike,
                baselines: Mapping[str, tuple[float | None, float | None]], title: str, *,
                throughput_label: str = "training throughput (samples/s)", power_w: ArrayLike | None = None,
                power_front_idx: ArrayLike | None = None, baseline_power_w: Mapping[str, float | None] | None = None,
                best_idx: int | None = None, best_label: str = "best", max_power_w: float | None = None) -> Path:
    """Write a PNG of throughput vs area: all feasible candidates (light points), the Pareto front
    (`phaze.search.pareto.pareto_front`, drawn as the staircase of the best throughput reachable within
    an area), the best design, and each baseline as a labelled marker, or as a dashed horizontal line when it
    has no area (a GPU). A baseline with no usable throughput (infeasible) is listed in the legend only.
    With `power_w` (per candidate) a second panel draws the same against power per chip (`pareto_figure`)."""
    fig = pareto_figure(area_mm2, throughput, front_idx, baselines, title, throughput_label=throughput_label,
                        power_w=power_w, power_front_idx=power_front_idx, baseline_power_w=baseline_power_w,
                        best_idx=best_idx, best_label=best_label, max_power_w=max_power_w)
    return save_png(fig, path)


def save_png(fig: Figure, path: str | Path) -> Path:
    """Save without the PNG "Software" chunk (byte-identical for the same figure), creating the directory."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", metadata={"Software": None})
    return out
