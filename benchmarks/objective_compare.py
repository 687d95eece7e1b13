"""Per job of two finished sweeps of the same experiment under different `search.objective`s (e.g. paper_llms with
the default `throughput` and with `throughput_per_watt`): each one's best design, its throughput, power per chip,
energy per token and throughput per watt, and the ratios between them, matched by (model, HBM capacity).

    .venv/bin/python benchmarks/objective_compare.py <sweep dir A> <sweep dir B>
    # e.g. after
    python -m phaze -m +experiment=paper_llms hydra.sweep.dir=outputs/pl_thr
    python -m phaze -m +experiment=paper_llms search.objective=throughput_per_watt hydra.sweep.dir=outputs/pl_tpw
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf


def design_label(hw: dict[str, Any]) -> str:
    return (f"{hw['n_tc']} x {hw['tc_width']}x{hw['tc_depth']}, {hw['n_vc']} x {hw['vc_width']}, "
            f"{hw['glb_mib']:g} MiB / {hw['glb_banks']}")


def jobs(sweep: Path) -> dict[tuple[str, float], dict[str, Any]]:
    """(model, HBM GiB) -> the job's result.json, for every finished job of the sweep."""
    out = {}
    for d in sorted(sweep.iterdir()):
        if not (d / "result.json").is_file():
            continue
        result = json.loads((d / "result.json").read_text())
        cfg = OmegaConf.load(d / "config.resolved.yaml")
        out[(str(result["model"]["name"]), float(cfg.hw.hbm_gib))] = result | {"objective": str(cfg.search.objective)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    args = ap.parse_args()
    a, b = jobs(args.a), jobs(args.b)
    both = [k for k in a if k in b]
    if not both:
        raise SystemExit("no (model, HBM) job finished in both sweeps")
    name_a, name_b = a[both[0]]["objective"], b[both[0]]["objective"]
    print(f"A: search.objective={name_a} ({args.a}); B: search.objective={name_b} ({args.b})")
    print("| model | HBM | objective | best design (tc, vc, buffer / banks) | area mm² | samples/s | W per chip "
          "(peak) | J/token | samples/s/W | placement |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ratios = []
    for key in both:
        rows = []
        for name, result in ((name_a, a[key]), (name_b, b[key])):
            best = result["best"]
            if not isinstance(best, dict):
                print(f"| {key[0]} | {key[1]:g} | {name} | {best} |")
                continue
            p = best["placement"]
            rows.append(best)
            print(f"| {key[0]} | {key[1]:g} | {name} | {design_label(best['hardware'])} | {best['area_mm2']:.1f} | "
                  f"{best['throughput_samples_s']:,.1f} | {best['power_w']:.1f} ({best['peak_power_w']:.1f}) | "
                  f"{best['energy_per_token_j']:.4g} | {best['throughput_per_watt']:.4g} | d={p['data']} "
                  f"p={p['pipeline']} t={p['tensor']} b={p['microbatch']} {p['recompute']} |")
        if len(rows) == 2:
            ratios.append((key, rows[1]["throughput_samples_s"] / rows[0]["throughput_samples_s"],
                           rows[1]["throughput_per_watt"] / rows[0]["throughput_per_watt"],
                           rows[1]["power_w"] / rows[0]["power_w"]))
    print()
    print("| model | HBM | B / A samples/s | B / A samples/s/W | B / A W per chip |")
    print("|---|---|---|---|---|")
    for (model, hbm), thr, tpw, watts in ratios:
        print(f"| {model} | {hbm:g} | {thr:.3f} | {tpw:.3f} | {watts:.3f} |")


if __name__ == "__main__":
    main()
