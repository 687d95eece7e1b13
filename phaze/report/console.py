"""Console rendering of a model summary with rich tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from phaze.model.graphs import LAYER_KINDS, RECOMPUTE_MODES

GIB = 2**30
PIPE_WIDTH = 140  # rich wraps at 80 columns when stdout is not a terminal; tables need more


def _console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=PIPE_WIDTH)


def _si(x: float) -> str:
    for unit, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:,.2f} {unit}"
    return f"{x:,.0f}"


def _plain(value: object) -> str:
    """Integers with thousands separators, other numbers to 6 significant digits."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e16):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def print_model_summary(model: dict[str, Any], console: Console | None = None) -> None:
    console = console or _console()
    title = (f"{model['name']}: {model['params_total']:,} parameters  "
             f"(micro-batch {model['microbatch']}, tensor width {model['tensor_width']}"
             f"{', sequence parallel' if model['sequence_parallel'] else ''})")
    table = Table(title=title, title_justify="left")
    for col in ("layer", "count", "ops fwd/bwd", "params / rank", "fwd FLOPs", "bwd FLOPs",
                *(f"act. {m}" for m in RECOMPUTE_MODES)):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for kind in LAYER_KINDS:
        row = model["layers"][kind]
        table.add_row(kind, str(row["count"]), f"{row['ops']}/{row['ops_bwd']}", f"{row['params']:,}",
                      _si(row["fwd_flops"]), _si(row["bwd_flops"]),
                      *(f"{row['activation_bytes'][m] / GIB:,.3f} GiB" for m in RECOMPUTE_MODES))
    console.print(table)
    console.print(f"training FLOPs per token: {model['flops_train_per_token']:,} "
                  f"(Kaplan 6N + 12Lsh: {model['flops_train_per_token_kaplan']:,})")
    console.print(f"forward FLOPs per sample: {model['flops_fwd_per_sample']:,}")
    act = model["activation_bytes_per_microbatch"]
    console.print("activation memory per micro-batch (whole model, one rank): "
                  + ", ".join(f"{m} {act[m] / GIB:,.2f} GiB" for m in RECOMPUTE_MODES))


def print_hardware_summary(hw: dict[str, Any], console: Console | None = None) -> None:
    console = console or _console()
    table = Table(title=f"hardware: {hw.get('name')}", title_justify="left", show_header=False)
    for key, value in hw.items():
        if key != "name":
            table.add_row(key, _plain(value))
    console.print(table)
