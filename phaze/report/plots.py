"""The Pareto plot: training throughput against chip area for every searched candidate (DESIGN §1, §8).

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global state), and saved
without the PNG "Software" text chunk so that the same inputs give a byte-identical file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

FIG_SIZE_IN = (8.0, 5.5)
DPI = 150
LOG_Y_SPAN = 100.0  # a log throughput axis when the plotted values span more than this factor
CANDIDATE_STYLE = {"s": 4, "color": "0.7", "alpha": 0.5, "linewidths": 0}
FRONT_COLOR = "tab:blue"
BASELINE_MARKERS = ("s", "^", "D", "v", "P", "X", "o", "<", ">")
BASELINE_COLORS = ("tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:pink", "tab:olive",
                   "tab:cyan", "black")
LABEL_OFFSET_PT = (7, 5)  # annotation offset from a baseline marker, in points (x flips near the right edge,
LABEL_RIGHT_EDGE = 0.8  # beyond this fraction of the largest area; y alternates so equal-area labels part)


def _usable(x: float | None) -> bool:
    return x is not None and bool(np.isfinite(x)) and x > 0


def pareto_plot(path: str | Path, area_mm2: ArrayLike, throughput: ArrayLike, front_idx: ArrayLike,
                baselines: Mapping[str, tuple[float | None, float | None]], title: str, *,
                throughput_label: str = "training throughput (samples/s)") -> Path:
    """Write a PNG of throughput vs area: all feasible candidates (light points), the Pareto front
    (`phaze.search.pareto.pareto_front`, drawn as the staircase of the best throughput reachable within
    an area), and each baseline as a labelled marker, or as a dashed horizontal line when it has no area
    (a GPU). A baseline with no usable throughput (infeasible) is listed in the legend only."""
    area = np.asarray(area_mm2, dtype=np.float64).reshape(-1)
    thr = np.asarray(throughput, dtype=np.float64).reshape(-1)
    front = np.asarray(front_idx, dtype=np.int64).reshape(-1)
    if area.shape != thr.shape:
        raise ValueError(f"area has {area.size} entries but throughput has {thr.size}")
    ok = np.isfinite(area) & np.isfinite(thr) & (thr > 0)
    front = front[np.argsort(area[front], kind="stable")]

    fig = Figure(figsize=FIG_SIZE_IN, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(area[ok], thr[ok], label=f"candidates ({int(ok.sum()):,} feasible)", zorder=1,
               **CANDIDATE_STYLE)
    if front.size:
        ax.plot(area[front], thr[front], drawstyle="steps-post", color=FRONT_COLOR, lw=1.5, marker="o", ms=3,
                label=f"Pareto front ({front.size} designs)", zorder=3)
        best = front[-1]
        ax.scatter([area[best]], [thr[best]], marker="*", s=160, color=FRONT_COLOR, edgecolors="black",
                   linewidths=0.6, zorder=5, label=f"best: {thr[best]:.4g} at {area[best]:.1f} mm²")

    areas = [b[0] for b in baselines.values() if b[0] is not None and np.isfinite(b[0])] + list(area[ok])
    right_edge = LABEL_RIGHT_EDGE * max(areas, default=0.0)
    extra_handles: list[Line2D] = []
    plotted = list(thr[ok])
    for k, (name, (b_area, b_thr)) in enumerate(baselines.items()):
        color, marker = BASELINE_COLORS[k % len(BASELINE_COLORS)], BASELINE_MARKERS[k % len(BASELINE_MARKERS)]
        if not _usable(b_thr):
            extra_handles.append(Line2D([], [], ls="none", marker=marker, mfc="none", color=color,
                                        label=f"{name}: infeasible"))
        elif b_area is None or not np.isfinite(b_area):
            ax.axhline(b_thr, color=color, ls="--", lw=1.2, zorder=2, label=f"{name}: {b_thr:.4g} (no area)")
            plotted.append(b_thr)
        else:
            ax.scatter([b_area], [b_thr], marker=marker, s=60, color=color, edgecolors="black",
                       linewidths=0.6, zorder=4, label=f"{name}: {b_thr:.4g} at {b_area:.1f} mm²")
            right = b_area > right_edge
            dx, dy = LABEL_OFFSET_PT[0] * (-1 if right else 1), LABEL_OFFSET_PT[1] * (1 if k % 2 == 0 else -2)
            ax.annotate(name, (b_area, b_thr), xytext=(dx, dy), textcoords="offset points", fontsize=8,
                        color=color, ha="right" if right else "left", va="center", zorder=6)
            plotted.append(b_thr)

    if plotted and max(plotted) / min(plotted) > LOG_Y_SPAN:
        ax.set_yscale("log")
    ax.set_xlabel("chip area (mm²)")
    ax.set_ylabel(throughput_label)
    ax.set_title(title)
    ax.grid(True, which="major", color="0.9", lw=0.6, zorder=0)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + extra_handles, loc="best", fontsize=8, framealpha=0.9)
    fig.tight_layout()

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", metadata={"Software": None})
    return out
