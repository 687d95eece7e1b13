"""Checks of phaze's energy model against the world (issue 19; docs/energy.md). Nothing is fitted: it only reports.

(a) TPUv4 power: `hw=tpuv4` running GPT-3 175B and BERT-large, each on its best placement as `task=evaluate`
    finds it, at the template's 22 nm and at TPUv4's real 7 nm (`hw.tech_node_nm=7`): mean power per chip in
    use and the busiest layer pass's power, against Google's measured 170 W mean and 192 W maximum over its
    production applications (and the modelled static power against the 90 W idle) — Jouppi et al., ISCA 2023,
    Table 4; Google Cloud TPU v4 documentation (phaze/data/hardware.csv tpuv4,idle_power ... max_power).
(b) A100 energy per token of a 7B model laid out like OLMo-7B's run (216 GPUs, global batch 2,048 x 2,048 tokens
    = 4.2M): `llama2_7b` with OLMo-7B's sequence length (2,048) and padded vocabulary (50,304), its best
    placement on `hw=a100`, against the measured 0.152 J/token of OLMo-7B (Groeneveld et al., "OLMo:
    Accelerating the Science of Language Models", arXiv:2402.00838, §4.4 and Table 8: 104 MWh before PUE on
    27 nodes x 8 A100-40GB over 2.46T tokens), and the pJ per model FLOP (6·N per token) it implies (3.7).
(c) ZigZag's energy of the four bert_large GEMM layers of benchmarks/crosscheck_zigzag.py on its TPU-like
    128x128 core against phaze's `op_energy` of the same GEMMs on the same core (`crosscheck_zigzag.phaze_energy`),
    per part (MAC, accumulator, global buffer, HBM) with the bytes each moves; and phaze's CACTI table against
    ZigZag's CACTI cache for the macros ZigZag's description prices (no ZigZag run needed for that one).
    Skipped with a message when ZigZag is not installed (`pip install -e '.[crosscheck]'`).

    .venv/bin/python benchmarks/energy_check.py [--part a b c] [--markdown F]     # ~30 s, (c) ~15 s of it
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra import compose, initialize_config_dir

from phaze.config import CONF_DIR, as_object, register_schemas
from phaze.cost.energy import static_power_w
from phaze.hardware import Accelerators
from phaze.model import build_model
from phaze.model.summary import model_summary
from phaze.placement.evaluate import DesignEvaluator, Outcome
from phaze.placement.optimizer_bytes import bytes_per_param
from phaze.placement.report import evaluated_entry
from phaze.placement.result import Infeasible
from phaze.placement.strategies import evaluate_best, evaluate_fixed

BENCH = Path(__file__).resolve().parent
HARDWARE_CSV = BENCH.parent / "phaze" / "data" / "hardware.csv"

# ---- (b) the OLMo-7B measurement (Groeneveld et al. 2024, arXiv:2402.00838)
OLMO_ENERGY_MWH = 104.0  # Table 8, OLMo 7B on the A100-40GB (MosaicML) cluster, before the PUE of 1.1
OLMO_TOKENS = 2.46e12  # §4: OLMo-7B evaluated "trained until 2.46T tokens"
OLMO_PARAMS = 6.89e9  # OLMo-7B's parameter count (the paper's 6.9B)
OLMO_GPUS = 216  # §3.4: 27 nodes x 8 A100-40GB
OLMO_GLOBAL_BATCH = 2048  # sequences of 2,048 tokens: OLMo's ~4M-token batch
OLMO_SEQ_LEN = 2048
OLMO_VOCAB = 50304  # OLMo's 50,280-token vocabulary padded to a multiple of 128
J_PER_MWH = 3.6e9
OLMO_J_PER_TOKEN = OLMO_ENERGY_MWH * J_PER_MWH / OLMO_TOKENS
OLMO_PJ_PER_FLOP = OLMO_J_PER_TOKEN / (6 * OLMO_PARAMS) * 1e12
A100_7B_OVERRIDES = ("model=llama2_7b", f"model.seq_len={OLMO_SEQ_LEN}", f"model.max_positions={OLMO_SEQ_LEN}",
                     f"model.vocab={OLMO_VOCAB}", "hw=a100", f"parallelism.devices={OLMO_GPUS}",
                     f"parallelism.global_batch={OLMO_GLOBAL_BATCH}")

# ---- (a) the jobs: GPT-3 175B at its published batch (1,536 sequences of 2,048, Brown et al. 2020 / Megatron-LM),
# on 1,024 chips (the PHAZE paper's cluster) and a 4,096-chip pod; BERT-large at phaze's paper_llms setting
# (1,024 chips, global batch 4,096).
TPU_JOBS = (("gpt3_175b", 1024, 1536), ("gpt3_175b", 4096, 1536), ("bert_large", 1024, 4096))
TPU_NODES_NM = (22, 7)
PARTS = ("arithmetic", "sram", "hbm", "link", "static")


def published(name: str, field: str) -> float:
    """A measured figure of phaze/data/hardware.csv (name, field)."""
    with HARDWARE_CSV.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["name"] == name and row["field"] == field:
                return float(row["value"])
    raise KeyError(f"{HARDWARE_CSV.name} has no row {name},{field}")


def compose_cfg(overrides: Sequence[str]):
    register_schemas()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=["task=evaluate", "tracking=none", *overrides])


@dataclass(frozen=True)
class Evaluated:
    """A job's placement as task=evaluate reports it (result.json's `best`, or `fixed`) and what it ran on."""

    overrides: tuple[str, ...]
    entry: dict
    static_w: float  # hw.static_power_w, or leakage density x area, per chip
    params_total: int
    seq_len: int


def evaluate(overrides: Sequence[str], fixed: bool = False) -> Evaluated | str:
    """task=evaluate's `best` entry (`fixed` with fixed=True) of one configuration; its reason if infeasible."""
    cfg = compose_cfg(overrides)
    model_cfg, par = as_object(cfg, "model"), as_object(cfg, "parallelism")
    acc = Accelerators.from_config(cfg.hw)
    ev = DesignEvaluator(model_cfg, par, as_object(cfg, "solver"), acc)
    params = int(model_summary(build_model(model_cfg, 1))["params_total"])
    if fixed:
        assert par.fixed_strategy is not None
        outcome: Outcome | Infeasible | None = evaluate_fixed(ev, par.fixed_strategy)
    else:
        outcome = evaluate_best(ev)[0]
    entry = evaluated_entry(ev, outcome, model_cfg, params, float(acc.peak_flops[0]))
    if not isinstance(entry, dict):
        return str(entry)
    return Evaluated(tuple(overrides), entry, float(static_power_w(acc)[0]), params, int(model_cfg.seq_len))


def placement_text(e: dict) -> str:
    p = e["placement"]
    return f"d={p['data']} p={p['pipeline']} t={p['tensor']} b={p['microbatch']} {p['recompute']}"


def err(model: float, world: float) -> str:
    return f"{model / world - 1:+.1%}"


# ------------------------------------------------------------------------------------------------ (a) TPUv4
def tpu_results() -> list[tuple[str, int, int, int, Evaluated]]:
    out = []
    for model, chips, batch in TPU_JOBS:
        for node in TPU_NODES_NM:
            ev = evaluate([f"model={model}", "hw=tpuv4", f"parallelism.devices={chips}",
                           f"parallelism.global_batch={batch}", f"hw.tech_node_nm={node}"])
            assert isinstance(ev, Evaluated), ev
            out.append((model, chips, batch, node, ev))
    return out


def tpu_report(results: Sequence[tuple[str, int, int, int, Evaluated]]) -> str:
    mean_w, max_w, idle_w = (published("tpuv4", f) for f in ("mean_power", "max_power", "idle_power"))
    out = [f"(a) TPUv4 (hw=tpuv4) power per chip vs Google's measured {mean_w:g} W mean / {max_w:g} W max / "
           f"{idle_w:g} W idle (Jouppi et al. ISCA 2023 Table 4)", "",
           "| model | chips (used) | global batch | best placement | node | mean W | vs mean | peak W | vs max | "
           "static W | vs idle | J / token |",
           "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for model, chips, batch, node, ev in results:
        e = ev.entry
        out.append(f"| {model} | {chips} ({e['placement']['devices_used']}) | {batch} | {placement_text(e)} | "
                   f"{node} nm | {e['power_w']:.1f} | {err(e['power_w'], mean_w)} | {e['peak_power_w']:.1f} | "
                   f"{err(e['peak_power_w'], max_w)} | {ev.static_w:.1f} | {err(ev.static_w, idle_w)} | "
                   f"{e['energy_per_token_j']:.4g} |")
    out += ["", "Where the energy goes (share of one iteration's energy, energy_parts_j)", "",
            "| model | chips | node | " + " | ".join(PARTS) + " |", "|---|---:|---:|" + "---:|" * len(PARTS)]
    for model, chips, _, node, ev in results:
        parts = ev.entry["energy_parts_j"]
        total = sum(parts.values())
        out.append(f"| {model} | {chips} | {node} nm | " + " | ".join(f"{parts[k] / total:.1%}" for k in PARTS) + " |")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------- (b) A100
def a100_results() -> tuple[Evaluated, Evaluated | str]:
    """(the best placement, OLMo's own layout d = 216, p = t = 1 as `parallelism.fixed`)."""
    best = evaluate(A100_7B_OVERRIDES)
    assert isinstance(best, Evaluated), best
    olmo = evaluate([*A100_7B_OVERRIDES, f"parallelism.fixed.data={OLMO_GPUS}", "parallelism.fixed.pipeline=1",
                     "parallelism.fixed.tensor=1"], fixed=True)
    return best, olmo


def a100_report(best: Evaluated, olmo: Evaluated | str) -> str:
    e = best.entry
    jpt = e["energy_per_token_j"]
    pj_flop = jpt / (6 * best.params_total) * 1e12
    parts = e["energy_parts_j"]
    tokens = OLMO_GLOBAL_BATCH * best.seq_len
    out = [f"(b) A100 (hw=a100, static {best.static_w:g} W) 7B model, OLMo-7B's run ({OLMO_GPUS} GPUs, "
           f"{OLMO_GLOBAL_BATCH} x {OLMO_SEQ_LEN} tokens per batch) vs OLMo-7B measured "
           f"{OLMO_J_PER_TOKEN:.3f} J/token (Groeneveld et al. 2024 Table 8)", "",
           "| placement | GPUs used | MFU | mean W per GPU | J / token | vs OLMo-7B | N (params) | pJ / model FLOP | "
           "vs OLMo-7B |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
           f"| best: {placement_text(e)} | {e['placement']['devices_used']} | {e['mfu']:.1%} | {e['power_w']:.1f} | "
           f"{jpt:.4f} | {err(jpt, OLMO_J_PER_TOKEN)} | {best.params_total / 1e9:.2f}B | {pj_flop:.3f} | "
           f"{err(pj_flop, OLMO_PJ_PER_FLOP)} |",
           f"| OLMo-7B measured | {OLMO_GPUS} | | | {OLMO_J_PER_TOKEN:.4f} | | {OLMO_PARAMS / 1e9:.2f}B | "
           f"{OLMO_PJ_PER_FLOP:.3f} | |", "",
           "Modelled energy per token by part (J / token)", "",
           "| " + " | ".join(PARTS) + " | total |", "|" + "---:|" * (len(PARTS) + 1),
           "| " + " | ".join(f"{parts[k] / tokens:.4g}" for k in PARTS) + f" | {sum(parts.values()) / tokens:.4g} |",
           ""]
    if isinstance(olmo, Evaluated):
        o = olmo.entry
        out.append(f"OLMo's own layout (d={OLMO_GPUS}, p=1, t=1): {placement_text(o)}, {o['energy_per_token_j']:.4f} "
                   f"J/token ({err(o['energy_per_token_j'], OLMO_J_PER_TOKEN)})")
    else:  # phaze holds every parameter's weights, gradients and optimizer state on each data-parallel rank
        per_param = bytes_per_param("adam_mixed", "fused")
        out.append(f"OLMo's own layout (d={OLMO_GPUS}, p=1, t=1; FSDP in the real run) does not fit in phaze, which "
                   f"does not shard weights, gradients or optimizer state over the data-parallel ranks: "
                   f"{per_param:g} B per parameter = {per_param * best.params_total / 2**30:.0f} GiB per GPU before "
                   "activations, over the A100's 80 GiB")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------- (c) ZigZag
def load_crosscheck():
    if str(BENCH) not in sys.path:  # crosscheck_zigzag imports crosscheck_scalesim's adapter from this directory
        sys.path.insert(0, str(BENCH))
    import crosscheck_zigzag

    return crosscheck_zigzag


# ZigZag's CACTI 7 cache entries (zigzag/cacti/cacti_master/example_mem_pool.yaml, 22 nm) behind the per-bit
# costs of crosscheck_zigzag's memories: (level, bytes, port bits, ports, read pJ, write pJ per access); the
# 128 B register file of w_reg is below phaze's table (1 KiB and up).
ZIGZAG_MACROS = (("glb", 33554432, 8192, "1r1w", 24031.3, 35705.8), ("acc", 2048, 256, "2r2w", 4.82046, 6.43854))


def cacti_report() -> str:
    from phaze.hardware.sram import sram_read_pj, sram_write_pj

    out = ["(c) CACTI: phaze's table (phaze/data/sram_22nm.csv) vs ZigZag's cache, the same macro (pJ per access)", "",
           "| ZigZag level | macro | ports | ZigZag read | phaze read | ZigZag write | phaze write |",
           "|---|---|---|---:|---:|---:|---:|"]
    for level, cap, bits, ports, zr, zw in ZIGZAG_MACROS:
        pr = float(sram_read_pj(cap, bits, level, ports))
        pw = float(sram_write_pj(cap, bits, level, ports))
        out.append(f"| {level} | {cap} B x {bits} b | {ports} | {zr:.6g} | {pr:.6g} | {zw:.6g} | {pw:.6g} |")
    return "\n".join(out)


def zigzag_results(w: int = 128, d: int = 128, lpf_limit: int = 6) -> list:
    """(layer, phaze_energy, ZigZagResult) of crosscheck_zigzag's layers; needs ZigZag."""
    xz = load_crosscheck()
    rows = []
    with tempfile.TemporaryDirectory(prefix="phaze-energy-zigzag-") as tmp:
        for lay in xz.layers():
            rows.append((lay, xz.phaze_energy(lay, w, d), xz.zigzag_run(lay, w, d, Path(tmp), lpf_limit)))
    return rows


def zigzag_report(rows: list, w: int = 128, d: int = 128, lpf_limit: int = 6) -> str:
    xz = load_crosscheck()
    head = (f"(c) ZigZag {xz.ZIGZAG_VERSION} (LOMA, lpf_limit {lpf_limit}) vs phaze op_energy, bert_large GEMMs "
            f"on one {w}x{d} TPU-like core (benchmarks/crosscheck_zigzag.py), 22 nm")
    return head + "\n\n" + xz.energy_parts_table(rows)


ZIGZAG_MISSING = "(c) ZigZag is not installed (pip install -e '.[crosscheck]'): the ZigZag comparison is skipped."


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", nargs="+", choices=("a", "b", "c"), default=["a", "b", "c"])
    ap.add_argument("--markdown", type=Path, default=None, help="also write the tables to this file")
    args = ap.parse_args(argv)
    sections = []
    start = time.perf_counter()
    if "a" in args.part:
        sections.append(tpu_report(tpu_results()))
    if "b" in args.part:
        sections.append(a100_report(*a100_results()))
    if "c" in args.part:
        sections.append(cacti_report())
        available = load_crosscheck().zigzag_available()
        sections.append(zigzag_report(zigzag_results()) if available else ZIGZAG_MISSING)
    text = "\n\n".join(sections)
    print(text)
    print(f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
