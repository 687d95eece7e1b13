"""Console rendering of a model summary with rich tables."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from phaze.model.graphs import LAYER_KINDS, RECOMPUTE_MODES

GIB = 2**30
MAX_STAGE_ROWS = 8  # longer pipelines show their first and last three stages (result.json has them all)
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
    if model.get("source"):
        console.print(f"model source: {model['source']}")
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


def _placement_row(table: Table, label: str, entry: Any) -> None:
    if not isinstance(entry, dict):
        table.add_row(label, *(["-"] * 9), str(entry))
        return
    p = entry["placement"]
    power, per_token = entry.get("power_w"), entry.get("energy_per_token_j")
    table.add_row(label, f"{entry['throughput_samples_s']:,.1f}", f"{entry['tokens_s']:,.0f}",
                  f"{entry['iteration_s']:.4g}", f"{entry['mfu']:.1%}",
                  f"{power:,.1f}" if power is not None else "-", f"{per_token:.4g}" if per_token is not None else "-",
                  f"{entry['memory_per_device_bytes'] / GIB:,.2f}",
                  f"d={p['data']} p={p['pipeline']} t={p['tensor']}", f"b={p['microbatch']} {p['recompute']}",
                  f"{p['devices_used']} devices, {_stage_note(p)}")


def _stage_note(p: dict[str, Any]) -> str:
    chunks = p.get("chunks", 1)
    if chunks > 1:
        return f"interleaved: {chunks} chunks per device of {_stage_sizes(p['stages'])} layers"
    return f"stages of {_stage_sizes(p['stages'])} layers"


def _stage_sizes(stages: list[int]) -> str:
    sizes = sorted(set(stages))
    return "/".join(str(s) for s in sizes)


def _layer_ranges(row: dict[str, Any]) -> str:
    ranges = row.get("chunks", [row["layers"]])
    return ",".join(f"{a}..{b - 1}" for a, b in ranges)


def print_placements(result: dict[str, Any], console: Console | None = None) -> None:
    """Best / literature / fixed placements side by side, then the best one's memory per stage."""
    console = console or _console()
    table = Table(title=f"{result['model']['name']} on {result['hardware']['name']}", title_justify="left")
    for col in ("placement", "samples/s", "tokens/s", "iteration s", "MFU", "W/chip", "J/token", "GiB/device",
                "d x p x t", "micro-batch", "notes"):
        table.add_column(col, justify="left" if col in ("placement", "notes") else "right")
    for label in ("best", "literature", "fixed"):
        if label in result and result[label] is not None:
            _placement_row(table, label, result[label])
    console.print(table)
    best = result.get("best")
    if isinstance(best, dict):
        mem = Table(title="memory per device of the best placement (GiB)", title_justify="left")
        for col in ("stage", "layers", "in flight", "weights+grads+optimizer", "activations", "total"):
            mem.add_column(col, justify="right")
        rows = best["memory_per_stage"]
        shown = rows if len(rows) <= MAX_STAGE_ROWS else [*rows[:3], None, *rows[-3:]]
        for row in shown:
            if row is None:
                mem.add_row("...", f"{len(rows) - 6} more", *([""] * 4))
                continue
            mem.add_row(str(row["stage"]), _layer_ranges(row),
                        str(row["inflight_microbatches"]), f"{row['weights_grads_optimizer_bytes'] / GIB:.2f}",
                        f"{row['activation_bytes'] / GIB:.2f}", f"{row['total_bytes'] / GIB:.2f}")
        console.print(mem)
    if isinstance(best, dict) and "layer_time_split" in best:
        print_time_split(best, console)
    if result.get("skipped_widths"):
        console.print(f"skipped tensor widths (do not divide heads, kv_heads or ffn): {result['skipped_widths']}")


def print_layer_split(split: dict[str, Any], what: str, console: Console | None = None) -> None:
    """Each layer pass's makespan and busy time per kind of op (`placement.time_split`)."""
    console = console or _console()
    table = Table(title=f"{what} (ms; busy time per kind of op)", title_justify="left")
    for col in ("layer", "pass", "makespan", "GEMMs", "vector", "collectives", "overlapped", "schedule"):
        table.add_column(col, justify="left" if col in ("layer", "pass", "schedule") else "right")
    for kind, passes in split.items():
        for name, row in passes.items():
            table.add_row(kind, name, *(f"{row[k] * 1e3:,.3f}" for k in ("makespan_s", "gemm_s", "vector_s",
                                                                           "collective_s", "overlap_s")),
                          schedule_label(row))
    console.print(table)


def schedule_label(row: dict[str, Any]) -> str:
    """`optimal (greedy)`, or `feasible (cpsat, gap 0.12%)`: how a pass's schedule was found and how far from
    proven optimal it may be (time_split rows written before `solver`/`gap` existed show the status alone)."""
    status = str(row["status"])
    if "solver" not in row:
        return status
    gap = row.get("gap")
    proven = status == "optimal" or not isinstance(gap, float) or not math.isfinite(gap)
    return f"{status} ({row['solver']})" if proven else f"{status} ({row['solver']}, gap {gap:.2%})"


def print_time_split(entry: dict[str, Any], console: Console) -> None:
    """The best placement's layer passes (`print_layer_split`), then the iteration's parts."""
    print_layer_split(entry["layer_time_split"], "time per layer pass of the best placement", console)
    it = entry["iteration"]
    console.print(f"iteration {entry['iteration_s']:.4g} s = pipeline steady {it['steady_s']:.4g} s"
                  f" + bubble {it['bubble_s']:.4g} s + data-parallel all-reduce {it['allreduce_s']:.4g} s"
                  f" + optimizer step {it['optimizer_s']:.4g} s")


BOUND_LABELS = {"compute": "compute", "global_buffer": "buffer bw", "hbm": "HBM bw", "vector": "vector",
                "link": "links", "control": "control"}


def bound_line(bound: dict[str, float]) -> str:
    """One line of a block's busy-time shares by binding resource and its peak bandwidth use
    (`placement.time_split.block_bound`), largest first."""
    parts = sorted(((bound[k], label) for k, label in BOUND_LABELS.items() if bound.get(k, 0.0) >= 0.005),
                   reverse=True)
    shares = ", ".join(f"{label} {share:.0%}" for share, label in parts)
    return f"{shares} (peak HBM {bound['hbm_peak']:.0%}, buffer {bound['glb_peak']:.0%})"

