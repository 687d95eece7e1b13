"""phaze's GEMM model against tools nobody here wrote (benchmarks/crosscheck_*.py, docs/crosscheck.md).

SCALE-Sim and ZigZag come with the optional `[crosscheck]` extra; without them these tests skip, except the
ones checking that the benchmarks then exit 0 with a message.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import load_benchmark

from phaze.cost.gemm import gemm_compute_cycles

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
HAS_BLOCK_ROWS = "block_rows" in inspect.signature(gemm_compute_cycles).parameters


@pytest.mark.parametrize(("script", "blocked"), [("crosscheck_scalesim", "scalesim"), ("crosscheck_zigzag", "zigzag")])
def test_benchmark_without_its_tool_exits_0_with_a_message(script: str, blocked: str) -> None:
    # as `python benchmarks/<script>.py` (its directory first on sys.path), with the tool's import blocked
    code = (f"import sys, runpy; sys.modules[{blocked!r}] = None; sys.argv = [{script!r}]; "
            f"sys.path.insert(0, {str(BENCH)!r}); runpy.run_path({str(BENCH / f'{script}.py')!r}, run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "is not installed" in done.stdout and "[crosscheck]" in done.stdout


# (N, M, C, W, D, SCALE-Sim cycles, phaze cycles), by hand: F = ceil(C/W)·ceil(M/D) folds,
# SCALE-Sim F·(2W + D + N - 2), phaze F·max(N, W) + W + D.
SHAPES = [
    (100, 40, 20, 8, 16, 9 * 130, 9 * 100 + 24),  # F = 3·3
    (5, 17, 9, 8, 16, 4 * 35, 4 * 8 + 24),  # N < W: phaze charges W per pass; F = 2·2
    (128, 128, 64, 128, 128, 510, 128 + 256),  # one bert_large QK^T head at s = 128 on a TPU MXU
    (255, 255, 255, 32, 128, 16 * 445, 16 * 255 + 160),  # rectangular array, non-multiple dims; F = 8·2
]


@pytest.mark.parametrize(("n", "m", "c", "w", "d", "sim", "phz"), SHAPES)
def test_phaze_is_scalesim_minus_the_closed_form_gap(n: int, m: int, c: int, w: int, d: int, sim: int,
                                                     phz: int) -> None:
    pytest.importorskip("scalesim")
    xc = load_benchmark("crosscheck_scalesim")
    with tempfile.TemporaryDirectory() as tmp:
        assert xc.scalesim_ws_cycles(n, m, c, w, d, Path(tmp)) == sim
    assert xc.phaze_cycles(1, n, m, c, w, d) == phz
    assert sim - phz == xc.closed_form_gap(1, n, m, c, w, d)
    assert xc.scalesim_closed_form(1, n, m, c, w, d) == sim


def test_closed_form_gap_with_b_products() -> None:
    """B products: SCALE-Sim runs B layers, phaze one op with one fill/drain (no tool needed: formulas only)."""
    xc = load_benchmark("crosscheck_scalesim")
    # bert_large QK^T, 16 heads, s = 128, on 128x128: SCALE-Sim 16·510, phaze 16·128 + 256
    assert xc.phaze_cycles(16, 128, 128, 64, 128, 128) == 16 * 128 + 256
    assert xc.scalesim_closed_form(16, 128, 128, 64, 128, 128) - (16 * 128 + 256) == xc.closed_form_gap(
        16, 128, 128, 64, 128, 128) == 16 * 382 - 256


@pytest.mark.skipif(not HAS_BLOCK_ROWS, reason="gemm_compute_cycles has no accumulator (block_rows) argument yet")
def test_closed_form_gap_with_an_accumulator_cap() -> None:
    """N = 100 rows, 48-row accumulator: 3 blocks of 34 rows, so phaze streams 102 rows per fold:
    9 folds · 3 blocks · 34 + 24 = 942 (SCALE-Sim 1170, no cap)."""
    xc = load_benchmark("crosscheck_scalesim")
    assert xc.phaze_cycles(1, 100, 40, 20, 8, 16, acc_rows=48) == 942
    assert xc.closed_form_gap(1, 100, 40, 20, 8, 16, acc_rows=48) == 1170 - 942


def test_zigzag_sees_the_core_phaze_describes() -> None:
    """A 64x64x64 GEMM fills an 8x8 array exactly: ZigZag's temporal cycles are MACs / 64 = 4096, its
    systolic drain W + D - 2 = 14, its MAC energy MACs · 2.0 pJ; phaze's compute is 4096 + W + D."""
    pytest.importorskip("zigzag")
    xz = load_benchmark("crosscheck_zigzag")
    layer = xz.Layer("t", 1, 64, 64, 64)
    with tempfile.TemporaryDirectory() as tmp:
        z = xz.zigzag_run(layer, 8, 8, Path(tmp), lpf_limit=3)
    assert z.ideal_temporal == 4096
    assert z.drain == 14
    assert z.mac_energy == pytest.approx(64**3 * 2.0)
    assert z.latency >= z.ideal_temporal + z.drain
    assert xz.phaze_latency(layer, 8, 8)["compute"] == 4096 + 16
