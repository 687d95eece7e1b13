"""The energy-split plot: where a placed design's energy per training iteration goes (`energy_parts_j`).

Beside `time_split.png`: one horizontal bar per design (the search's best and each baseline, or for
`task=evaluate` the best, literature and fixed placements), the joules of one iteration of the global batch
over the whole cluster, stacked by part: arithmetic (MACs and vector lanes), SRAM (accumulators and global
buffer), HBM, links (collectives and the gradient all-reduce) and static (leakage of every device in use for
the whole iteration); phaze/placement/energy.py has the formula. Every design trains the same global batch,
so the bars compare energy per sample; each bar's label adds its power per chip and energy per token.

Drawn like the Pareto plot (`plots.py`): matplotlib's object API on the Agg canvas, saved without the PNG
"Software" chunk, so the same entries give a byte-identical file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from phaze.placement.energy import ENERGY_PARTS
from phaze.report.plots import DPI, save_png

# part -> (legend label, colour), stacked in ENERGY_PARTS order (an unknown part after them, in grey)
PARTS = {"arithmetic": ("arithmetic", "tab:blue"), "sram": ("SRAM", "tab:orange"), "hbm": ("HBM", "tab:green"),
         "link": ("links", "tab:red"), "static": ("static (leakage)", "0.55")}
OTHER_COLOR = "0.8"
BAR_HEIGHT = 0.6
FIG_WIDTH_IN = 8.0
ROW_HEIGHT_IN = 0.55  # per bar (two-line labels), plus room for the title, the axis and the legend
MARGIN_HEIGHT_IN = 2.0
X_HEADROOM = 1.18  # room for the total written after the longest bar
LEGEND_Y = -0.2  # axes fraction: below the x label
UNITS = ((1e9, "GJ"), (1e6, "MJ"), (1e3, "kJ"), (1.0, "J"))
SMALL_UNITS = ((1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ"))


def energy_unit(largest: float) -> tuple[float, str]:
    """(joules per unit, name) so that `largest` reads between 1 and 1000 (J at least)."""
    for scale, name in UNITS:
        if largest >= scale:
            return scale, name
    return 1.0, "J"


def joules_text(value: float) -> str:
    """`2.06 mJ`, `1.2 kJ`: a value in joules with an SI prefix."""
    if not np.isfinite(value):
        return "-"
    for scale, name in (*UNITS[:-1], *SMALL_UNITS):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {name}"
    return f"{value:.3g} J"


def energy_entries(entries: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The entries that have an energy split (an infeasible baseline is a string, an old result has none)."""
    return {name: e for name, e in entries.items()
            if isinstance(e, Mapping) and isinstance(e.get("energy_parts_j"), Mapping) and e["energy_parts_j"]}


def _label(name: str, entry: Mapping[str, Any]) -> str:
    figures = []
    if isinstance(entry.get("power_w"), int | float) and np.isfinite(entry["power_w"]):
        figures.append(f"{entry['power_w']:.1f} W/chip")
    if isinstance(entry.get("energy_per_token_j"), int | float):
        figures.append(f"{joules_text(entry['energy_per_token_j'])}/token")
    return name + ("\n" + ", ".join(figures) if figures else "")


def energy_split_figure(entries: Mapping[str, Any], title: str) -> Figure:
    """The figure `energy_split_plot` saves: one stacked bar per entry with an `energy_parts_j`, the first on
    top; entries without one (an infeasible baseline) are left out."""
    rows = energy_entries(entries)
    parts = list(ENERGY_PARTS) + sorted({p for e in rows.values() for p in e["energy_parts_j"]} - set(ENERGY_PARTS))
    totals = [sum(float(v) for v in e["energy_parts_j"].values()) for e in rows.values()]
    scale, unit = energy_unit(max(totals, default=0.0))
    fig = Figure(figsize=(FIG_WIDTH_IN, MARGIN_HEIGHT_IN + ROW_HEIGHT_IN * max(len(rows), 1)), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    y = list(range(len(rows)))[::-1]  # the first entry on top
    left = [0.0] * len(rows)
    for part in parts:
        label, color = PARTS.get(part, (part, OTHER_COLOR))
        widths = [float(e["energy_parts_j"].get(part, 0.0)) / scale for e in rows.values()]
        ax.barh(y, widths, left=left, height=BAR_HEIGHT, color=color, label=label, zorder=2)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for yi, total in zip(y, totals, strict=True):
        ax.annotate(joules_text(total), (total / scale, yi), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8, zorder=3)
    ax.set_yticks(y, [_label(name, e) for name, e in rows.items()], fontsize=8)
    ax.set_xlim(0, X_HEADROOM * max([*left, 1e-9]))
    ax.set_xlabel(f"energy per training iteration, whole cluster ({unit})")
    ax.set_title(title)
    ax.grid(True, axis="x", color="0.9", lw=0.6, zorder=0)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, LEGEND_Y), ncol=len(parts), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def energy_split_plot(path: str | Path, entries: Mapping[str, Any], title: str) -> Path:
    """Write a PNG of where each entry's energy per iteration goes (name -> result.json entry with
    `energy_parts_j`, and `power_w` / `energy_per_token_j` for its label)."""
    return save_png(energy_split_figure(entries, title), path)


__all__ = ["energy_entries", "energy_split_figure", "energy_split_plot", "energy_unit", "joules_text"]
