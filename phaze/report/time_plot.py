"""The time-split plot: where one placement's layer time goes, pass by pass (`placement.time_split`).

Why a picture: the table says it in numbers, but whether a design is bound by its GEMMs, its vector ops or
its collectives, and how much of that its schedule overlaps, is read at a glance from stacked bars. One
horizontal bar per layer pass: the busy time of each kind of op, stacked, and the makespan as a tick; where
ops overlap, the stack runs past the tick by `overlap_s`.

Drawn like the Pareto plot (`plots.py`): matplotlib's object API on the Agg canvas, saved without the PNG
"Software" chunk, so the same split gives a byte-identical file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from phaze.model.graphs import LAYER_KINDS
from phaze.report.plots import DPI

# busy-time key -> (legend label, colour), stacked in this order
KINDS = {"gemm_s": ("GEMMs", "tab:blue"), "vector_s": ("vector ops", "tab:orange"),
         "collective_s": ("collectives", "tab:green")}
BAR_HEIGHT = 0.6
FIG_WIDTH_IN = 8.0
ROW_HEIGHT_IN = 0.45  # per bar, plus room for the title and the axis
MARGIN_HEIGHT_IN = 2.0
MS_PER_S = 1e3
X_HEADROOM = 1.04
LEGEND_Y = -0.2  # axes fraction: below the x label
PASSES = ("fwd", "bwd")  # drawn in this order whatever the order of the keys (result.json sorts them)


def time_split_plot(path: str | Path, split: Mapping[str, Mapping[str, Mapping[str, Any]]], title: str) -> Path:
    """Write a PNG of `split` (layer kind -> pass -> `placement.time_split.schedule_split` row), in ms."""
    kinds = [k for k in LAYER_KINDS if k in split] + [k for k in split if k not in LAYER_KINDS]
    rows = [(f"{kind} {name}", split[kind][name]) for kind in kinds for name in PASSES if name in split[kind]]
    fig = Figure(figsize=(FIG_WIDTH_IN, MARGIN_HEIGHT_IN + ROW_HEIGHT_IN * len(rows)), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    y = list(range(len(rows)))[::-1]  # the first pass on top
    left = [0.0] * len(rows)
    for key, (label, color) in KINDS.items():
        widths = [float(row[key]) * MS_PER_S for _, row in rows]
        ax.barh(y, widths, left=left, height=BAR_HEIGHT, color=color, label=label, zorder=2)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    makespans = [float(row["makespan_s"]) * MS_PER_S for _, row in rows]
    ax.scatter(makespans, y, marker="|", s=400, color="black", linewidths=2, zorder=3, label="makespan")
    ax.set_yticks(y, [name for name, _ in rows])
    ax.set_xlim(0, X_HEADROOM * max([*left, *makespans, 1e-9]))  # the last tick and stack stay inside
    ax.set_xlabel("time per micro-batch (ms)")
    ax.set_title(title)
    ax.grid(True, axis="x", color="0.9", lw=0.6, zorder=0)
    # below the axes, so it never covers a bar
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, LEGEND_Y), ncol=len(KINDS) + 1, fontsize=8, frameon=False)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", metadata={"Software": None})
    return out
