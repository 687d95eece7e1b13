"""Cross-check: phaze's GEMM compute cycles against SCALE-Sim's weight-stationary cycles (issue 18, item 10).

SCALE-Sim (`pip install -e '.[crosscheck]'`, scalesim 3.0.0) runs every GEMM shape below on every array
shape below in weight-stationary (`ws`) dataflow; phaze's `gemm_compute_cycles` prices the same op on one
core of the same array. Prints one row per (shape, array): phaze cycles, SCALE-Sim cycles, relative error,
and whether phaze = SCALE-Sim - `closed_form_gap` holds to the cycle; then a summary per array shape.

    .venv/bin/python benchmarks/crosscheck_scalesim.py [--arrays 8x8,16x16] [--max-elems 4e7] [--markdown F]
    .venv/bin/python benchmarks/crosscheck_scalesim.py --acc-rows 64     # the accumulator row-block variant
    python benchmarks/crosscheck_scalesim.py --full                      # SCALE-Sim's memory simulation too

Mapping of the dims (SCALE-Sim 3.0.0, `topology_utils.load_arrays_gemm`, `compute/systolic_compute_ws.py`).
phaze's op is B independent `N x C @ C x M` products on a W x D array (W rows carry C, D columns carry M).
A SCALE-Sim GEMM layer `M, N, K` is an `M x K` input ("ifmap") times a `K x N` filter; in WS the filter
is stationary, its K rows on the array rows (`Sr = K`), its N columns on the array columns (`Sc = N`), and
the M input rows stream through (`T = M`). So: SCALE-Sim M = phaze N, SCALE-Sim K = phaze C, SCALE-Sim
N = phaze M, ArrayHeight = W, ArrayWidth = D. SCALE-Sim has no batch: a B-product op is B layers run one
after the other, so its cycles are B x one product's.

What is counted. SCALE-Sim's compute cycles are the rows of its demand matrices: per fold (one W x D weight
tile) the filter demand is W rows of weight load plus `W + D + T - 2` rows of streaming and drain, i.e.
`2W + D + N - 2` cycles (`create_filter_demand_mat`: `inter_fold_gap_suffix = arr_row + arr_col + T - 2`
after the `arr_row` weight rows), for `F = ceil(C/W)·ceil(M/D)` folds. The memory simulation replays those
rows cycle by cycle against the SRAMs; with SRAMs large enough it adds no stall and reports "Total Cycles"
= demand rows - 1 (the 0-based index of the last cycle; checked with `--full`). SCALE-Sim 3.0.0's memory
simulation fails under numpy >= 2.4 (`int(max(...))` of a 1-element array, read_buffer.py and
double_buffered_scratchpad_mem.py), which phaze pins, so by default this script builds SCALE-Sim's demand
matrices with its own classes (operand_matrix, systolic_compute_ws) and counts their rows; `--full` (in an
environment with numpy < 2.4) also runs the whole simulator and prints its Total and Stall cycles.

Closed form. On one core with an accumulator that holds all N rows, phaze gives
`P = B·F·max(N, W) + W + D`, SCALE-Sim `S = B·F·(2W + D + N - 2)`, so
`S - P = B·F·(W + D - 2 + min(N, W)) - (W + D)`: per fold SCALE-Sim pays the weight load that phaze hides
behind the previous tile's stream (W cycles, of which phaze still charges W - N when N < W: net
min(N, W)) and a fill and drain of W + D - 2 cycles, which phaze pays once per op (W + D) because
consecutive tiles overlap in its pipeline.
"""

from __future__ import annotations

import argparse
import inspect
import math
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

CONF = Path(__file__).resolve().parents[1] / "phaze" / "conf" / "model"
SCALESIM_VERSION = "3.0.0"
# The array shapes (W rows x D columns), square and rectangular, from a GPU tensor core's size to a TPU MXU's
# and beyond.
ARRAYS: tuple[tuple[int, int], ...] = ((8, 8), (16, 16), (32, 32), (128, 128), (32, 128), (128, 32), (256, 256))
# A (shape, array) pair whose SCALE-Sim demand matrices would exceed this many elements is skipped (and listed):
# SCALE-Sim materialises one float64 address per PE-row/column per cycle, ~50 ns and 8 B per element here.
MAX_DEMAND_ELEMS = 6e7
# phaze's tensor-core accumulator is double-buffered (phaze.hardware.design.ACC_BUFFERS after issue 18 item 1;
# TPUv1's 4096 rows were 2 x 2048, Jouppi et al. ISCA 2017 §2): an output block fills one half.
ACC_BUFFERS = 2


@dataclass(frozen=True)
class Shape:
    """One GEMM op in phaze's dims: B independent N x C @ C x M products."""

    name: str
    b: int
    n: int
    m: int
    c: int


def transformer_shapes() -> list[Shape]:
    """QKV / out-projection / FC1 / FC2 and per-head attention products of three of phaze's model configs at
    small batch: bert_large (1 x 128 tokens; attention at s = 128 and 512), opt350m (decode, 8 sequences,
    context 256; attention prefill at s = 256), gpt2_xl (decode, 16 sequences; attention at s = 1024)."""
    out: list[Shape] = []

    def cfg(name: str) -> tuple[int, int, int]:
        c = OmegaConf.load(CONF / f"{name}.yaml")
        return int(c.hidden), int(c.ffn), int(c.heads)

    def projections(model: str, tokens: int) -> None:
        h, f, _ = cfg(model)
        out.extend([Shape(f"{model} qkv N={tokens}", 1, tokens, 3 * h, h),
                    Shape(f"{model} attn-out N={tokens}", 1, tokens, h, h),
                    Shape(f"{model} fc1 N={tokens}", 1, tokens, f, h),
                    Shape(f"{model} fc2 N={tokens}", 1, tokens, h, f)])

    def attention(model: str, s: int, batch: int = 1) -> None:
        h, _, heads = cfg(model)
        hd = h // heads
        out.extend([Shape(f"{model} QK^T s={s}", batch * heads, s, s, hd),
                    Shape(f"{model} AV s={s}", batch * heads, s, hd, s)])

    projections("bert_large", 128)
    attention("bert_large", 128)
    attention("bert_large", 512)
    projections("opt350m", 8)
    attention("opt350m", 256)
    h, _, heads = cfg("opt350m")
    out.extend([Shape("opt350m decode QK^T ctx=256", 8 * heads, 1, 256, h // heads),
                Shape("opt350m decode AV ctx=256", 8 * heads, 1, h // heads, 256)])
    projections("gpt2_xl", 16)
    attention("gpt2_xl", 1024)
    return out


# Odd and non-multiple shapes (N, M, C): primes, one-off-a-power-of-two, skinny, N < W, tiny.
ODD_SHAPES: tuple[tuple[int, int, int], ...] = (
    (1, 1, 1), (1, 7, 3), (2, 3, 5), (5, 17, 9), (7, 13, 5), (13, 7, 29), (17, 31, 257), (31, 33, 65),
    (33, 17, 65), (63, 65, 127), (65, 63, 129), (100, 40, 20), (127, 129, 255), (129, 257, 130), (200, 96, 300),
    (255, 255, 255), (257, 129, 63), (300, 10, 1000), (333, 77, 111), (500, 100, 33), (511, 1, 513),
    (3, 1000, 7), (1000, 3, 7), (1, 512, 512), (4, 256, 384), (12, 1024, 96), (64, 64, 64), (96, 96, 96),
    (128, 128, 128), (256, 256, 256), (48, 720, 360), (80, 2048, 40), (1024, 48, 96),
)


def all_shapes() -> list[Shape]:
    return transformer_shapes() + [Shape(f"odd {n}x{m}x{c}", 1, n, m, c) for n, m, c in ODD_SHAPES]


# ---------------------------------------------------------------------------------------------- phaze side
def phaze_cycles(b: int, n: int, m: int, c: int, w: int, d: int, acc_rows: int | None = None) -> int:
    """phaze's compute cycles of the op on one W x D core: the one adapter between this benchmark and phaze.

    `acc_rows` caps the rows of an output block (the accumulator's rows); None means it holds all N rows.
    Works with both forms of `gemm_compute_cycles` (without and with the `block_rows` argument).
    """
    from phaze.cost.gemm import gemm_compute_cycles

    if "block_rows" in inspect.signature(gemm_compute_cycles).parameters:
        return int(gemm_compute_cycles(b, n, m, c, 1, w, d, n if acc_rows is None else acc_rows))
    if acc_rows is not None:
        raise SystemExit("--acc-rows: this phaze's gemm_compute_cycles has no block_rows (accumulator) argument")
    return int(gemm_compute_cycles(b, n, m, c, 1, w, d))


def folds(m: int, c: int, w: int, d: int) -> int:
    """SCALE-Sim's folds of one product: ceil(C/W) row folds x ceil(M/D) column folds."""
    return math.ceil(c / w) * math.ceil(m / d)


def scalesim_closed_form(b: int, n: int, m: int, c: int, w: int, d: int) -> int:
    """SCALE-Sim WS compute cycles by its per-fold formula: B·F·(2W + D + N - 2)."""
    return b * folds(m, c, w, d) * (2 * w + d + n - 2)


def closed_form_gap(b: int, n: int, m: int, c: int, w: int, d: int, acc_rows: int | None = None) -> int:
    """SCALE-Sim's cycles minus phaze's, in closed form.

    All N rows in the accumulator: `B·F·(W + D - 2 + min(N, W)) - (W + D)`. With a cap of R rows, phaze
    cuts N into nb = ceil(N/R) balanced blocks of r = ceil(N/nb) rows and re-streams the weights per block:
    `B·F·(2W + D + N - 2) - (B·nb·F·max(r, W) + W + D)`.
    """
    f = folds(m, c, w, d)
    if acc_rows is None or acc_rows >= n:
        return b * f * (w + d - 2 + min(n, w)) - (w + d)
    nb = math.ceil(n / acc_rows)
    r = math.ceil(n / nb)
    return scalesim_closed_form(b, n, m, c, w, d) - (b * nb * f * max(r, w) + w + d)


# ------------------------------------------------------------------------------------------- SCALE-Sim side
CONFIG_TEMPLATE = """[general]
run_name = crosscheck

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: {sram_kb}
FilterSramSzkB: {sram_kb}
OfmapSramSzkB: {sram_kb}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Dataflow: ws
ReadRequestBuffer: 32
WriteRequestBuffer: 32
Bandwidth: {bandwidth}

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: {bandwidth}
IfmapSRAMBankNum: 1
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: {bandwidth}
FilterSRAMBankNum: 1
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: USER
UseRamulatorTrace: False
"""
# SRAMs of 1 GiB each and 4096 words/cycle of bandwidth: every operand fits, no fill ever stalls the array.
SRAM_KB = 1 << 20
BANDWIDTH_WORDS = 4096


def scalesim_available() -> bool:
    try:
        import scalesim  # noqa: F401
    except ImportError:
        return False
    return True


def write_inputs(workdir: Path, rows: int, cols: int, layers: Sequence[tuple[str, int, int, int]]) -> tuple[Path, ...]:
    """SCALE-Sim's config, GEMM topology (`Layer, M, N, K,` in SCALE-Sim's names) and (empty) layout files."""
    cfg = workdir / "crosscheck.cfg"
    cfg.write_text(CONFIG_TEMPLATE.format(rows=rows, cols=cols, sram_kb=SRAM_KB, bandwidth=BANDWIDTH_WORDS))
    topo = workdir / "gemm.csv"
    topo.write_text("Layer, M, N, K,\n" + "".join(f"{name}, {sm}, {sn}, {sk},\n" for name, sm, sn, sk in layers))
    layout = workdir / "layout.csv"
    layout.write_text("Layer name,\n")
    return cfg, topo, layout


def scalesim_ws_cycles(n: int, m: int, c: int, rows: int, cols: int, workdir: Path) -> int:
    """SCALE-Sim's WS compute cycles of one `N x C @ C x M` product on a rows x cols array: the rows of the
    demand matrices its compute model (operand_matrix + systolic_compute_ws) builds from its own input files."""
    from scalesim.compute.operand_matrix import operand_matrix
    from scalesim.compute.systolic_compute_ws import systolic_compute_ws
    from scalesim.layout_utils import layouts
    from scalesim.scale_config import scale_config
    from scalesim.topology_utils import topologies

    cfg_path, topo_path, layout_path = write_inputs(workdir, rows, cols, [("l0", n, m, c)])
    cfg = scale_config()
    cfg.read_conf_file(str(cfg_path))
    topo = topologies()
    topo.load_arrays(topofile=str(topo_path), mnk_inputs=True)
    lay = layouts()
    lay.load_arrays(layoutfile=str(layout_path))
    opm = operand_matrix()
    opm.set_params(config_obj=cfg, topoutil_obj=topo, layoututil_obj=lay, layer_id=0)
    _, ifmap = opm.get_ifmap_matrix()
    _, filt = opm.get_filter_matrix()
    _, ofmap = opm.get_ofmap_matrix()
    ws = systolic_compute_ws()
    ws.set_params(config_obj=cfg, ifmap_op_mat=ifmap, filter_op_mat=filt, ofmap_op_mat=ofmap)
    ifd, fd, od = ws.get_demand_matrices()
    if not ifd.shape[0] == fd.shape[0] == od.shape[0]:
        raise RuntimeError(f"SCALE-Sim demand matrices disagree: {ifd.shape} {fd.shape} {od.shape}")
    return int(od.shape[0])


def scalesim_full_run(layers: Sequence[tuple[str, int, int, int]], rows: int, cols: int,
                      workdir: Path) -> list[tuple[int, int]]:
    """(Total Cycles, Stall Cycles) of SCALE-Sim's whole simulator (compute + memory), from its COMPUTE_REPORT.
    Needs numpy < 2.4 (SCALE-Sim 3.0.0's memory model)."""
    from scalesim.scale_sim import scalesim

    cfg, topo, layout = write_inputs(workdir, rows, cols, layers)
    sim = scalesim(save_disk_space=True, verbose=False, config=str(cfg), topology=str(topo), layout=str(layout),
                   input_type_gemm=True)
    sim.run_scale(top_path=str(workdir / "out"))
    report = (workdir / "out" / "crosscheck" / "COMPUTE_REPORT.csv").read_text().splitlines()[1:]
    return [(int(r.split(",")[2]), int(r.split(",")[3])) for r in report if r.strip()]


def demand_elems(s: Shape, w: int, d: int) -> float:
    """Elements of SCALE-Sim's three demand matrices for one product (ifmap W wide, filter and ofmap D wide)."""
    return folds(s.m, s.c, w, d) * (2 * w + d + s.n - 2) * (w + 2 * d)


# ------------------------------------------------------------------------------------------------- report
@dataclass(frozen=True)
class Row:
    shape: Shape
    w: int
    d: int
    phaze: int
    scalesim: int
    acc_rows: int | None  # phaze's accumulator cap on the rows of an output block (None: all N rows)

    @property
    def exact(self) -> bool:
        """phaze = SCALE-Sim - closed_form_gap, to the cycle."""
        s = self.shape
        return self.scalesim - self.phaze == closed_form_gap(s.b, s.n, s.m, s.c, self.w, self.d, self.acc_rows)

    @property
    def rel_err(self) -> float:
        """(phaze - SCALE-Sim) / SCALE-Sim."""
        return (self.phaze - self.scalesim) / self.scalesim


def acc_cap(w: int, acc_rows: int | None, acc_rows_per_width: int | None) -> int | None:
    """The accumulator cap on a W-row array: an absolute row count, or phaze's `tc_acc_rows_per_width·W /
    ACC_BUFFERS` (one of the two double-buffered halves holds an output block), or None (no cap)."""
    if acc_rows is not None:
        return acc_rows
    return None if acc_rows_per_width is None else acc_rows_per_width * w // ACC_BUFFERS


def run(shapes: Sequence[Shape], arrays: Sequence[tuple[int, int]], max_elems: float, acc_rows: int | None,
        acc_rows_per_width: int | None = None) -> tuple[list[Row], list[tuple[Shape, int, int]]]:
    """SCALE-Sim and phaze on every (shape, array) pair under `max_elems`; the skipped pairs."""
    rows: list[Row] = []
    skipped: list[tuple[Shape, int, int]] = []
    with tempfile.TemporaryDirectory(prefix="phaze-scalesim-") as tmp:
        for w, d in arrays:
            for s in shapes:
                if demand_elems(s, w, d) > max_elems:
                    skipped.append((s, w, d))
                    continue
                sim = s.b * scalesim_ws_cycles(s.n, s.m, s.c, w, d, Path(tmp))
                cap = acc_cap(w, acc_rows, acc_rows_per_width)
                rows.append(Row(s, w, d, phaze_cycles(s.b, s.n, s.m, s.c, w, d, cap), sim, cap))
    return rows, skipped


def tables(rows: Sequence[Row], skipped: Sequence[tuple[Shape, int, int]]) -> str:
    """The per-(shape, array) table, the per-array summary and the skipped pairs, as markdown."""
    out = ["| shape | B | N | M | C | array WxD | phaze | SCALE-Sim | rel. err | S - P | closed form |",
           "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|"]
    for r in rows:
        s = r.shape
        gap = r.scalesim - r.phaze
        ok = "exact" if r.exact else "MISMATCH"
        out.append(f"| {s.name} | {s.b} | {s.n} | {s.m} | {s.c} | {r.w}x{r.d} | {r.phaze} | {r.scalesim} | "
                   f"{r.rel_err:+.1%} | {gap} | {ok} |")
    out += ["", "| array WxD | pairs | mean rel. err | mean abs rel. err | max abs rel. err | worst shape | "
            "closed form exact |", "|---|---:|---:|---:|---:|---|---|"]
    for w, d in dict.fromkeys((r.w, r.d) for r in rows):
        mine = [r for r in rows if (r.w, r.d) == (w, d)]
        worst = max(mine, key=lambda r: abs(r.rel_err))
        exact = sum(r.exact for r in mine)
        out.append(f"| {w}x{d} | {len(mine)} | {statistics.mean(r.rel_err for r in mine):+.1%} | "
                   f"{statistics.mean(abs(r.rel_err) for r in mine):.1%} | {abs(worst.rel_err):.1%} | "
                   f"{worst.shape.name} | {exact}/{len(mine)} |")
    if skipped:
        out += ["", f"Skipped ({len(skipped)} pairs, SCALE-Sim's demand matrices over --max-elems): "
                + ", ".join(f"{s.name} on {w}x{d}" for s, w, d in skipped)]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arrays", default=",".join(f"{w}x{d}" for w, d in ARRAYS), help="WxD,WxD,...")
    ap.add_argument("--max-elems", type=float, default=MAX_DEMAND_ELEMS)
    ap.add_argument("--acc-rows", type=int, default=None, help="accumulator rows cap (row-block variant)")
    ap.add_argument("--acc-rows-per-width", type=int, default=None,
                    help="row-block variant with phaze's cap tc_acc_rows_per_width·W/2 on each array (e.g. 16)")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the tables to this file")
    ap.add_argument("--full", action="store_true", help="also run SCALE-Sim's whole simulator on small shapes")
    args = ap.parse_args(argv)
    if not scalesim_available():
        print("crosscheck_scalesim: SCALE-Sim is not installed (pip install -e '.[crosscheck]'); nothing to do.")
        return 0
    try:
        arrays = [(int(w), int(d)) for w, d in (a.lower().split("x") for a in args.arrays.split(","))]
    except ValueError:
        ap.error(f"--arrays: expected WxD,WxD,... with positive integers, got {args.arrays!r}")
    if any(w < 1 or d < 1 for w, d in arrays):
        ap.error(f"--arrays: expected WxD,WxD,... with positive integers, got {args.arrays!r}")
    if args.full:
        import numpy as np

        if tuple(int(x) for x in np.__version__.split(".")[:2]) >= (2, 4):
            ap.error(f"--full: SCALE-Sim {SCALESIM_VERSION}'s memory simulation needs numpy < 2.4 (this is "
                     f"{np.__version__}); run it from a separate environment (docs/crosscheck.md)")
        return full_check()
    rows, skipped = run(all_shapes(), arrays, args.max_elems, args.acc_rows, args.acc_rows_per_width)
    cap = ("all N rows" if args.acc_rows is None and args.acc_rows_per_width is None else
           f"{args.acc_rows} rows" if args.acc_rows is not None else f"{args.acc_rows_per_width}·W/2 rows")
    from phaze.cost.gemm import gemm_compute_cycles

    form = "with" if "block_rows" in inspect.signature(gemm_compute_cycles).parameters else "without"
    text = (f"SCALE-Sim {SCALESIM_VERSION} (WS, demand-matrix rows) vs phaze gemm_compute_cycles ({form} "
            f"block_rows; 1 core, accumulator holds {cap})\n\n" + tables(rows, skipped))
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


def full_check() -> int:
    """SCALE-Sim's whole simulator (memory included) on the odd shapes small enough for its per-cycle loop:
    its Total Cycles must be its demand rows - 1 with no stall."""
    small = [s for s in all_shapes() if s.b == 1 and scalesim_closed_form(1, s.n, s.m, s.c, 32, 32) < 20000]
    print("| shape | array | demand rows | Total Cycles | Stall Cycles | Total = rows - 1 |")
    print("|---|---|---:|---:|---:|---|")
    bad = 0
    with tempfile.TemporaryDirectory(prefix="phaze-scalesim-full-") as tmp:
        for w, d in ((8, 8), (32, 32), (32, 128)):
            layers = [(f"l{i}", s.n, s.m, s.c) for i, s in enumerate(small)]
            results = scalesim_full_run(layers, w, d, Path(tmp))
            for s, (total, stall) in zip(small, results, strict=True):
                rows = scalesim_ws_cycles(s.n, s.m, s.c, w, d, Path(tmp))
                ok = total == rows - 1 and stall == 0
                bad += not ok
                print(f"| {s.name} | {w}x{d} | {rows} | {total} | {stall} | {'yes' if ok else 'NO'} |")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
