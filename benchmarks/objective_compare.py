"""Per job of two finished sweeps of the same experiment under different `search.objective`s (e.g. paper_llms with
the default `throughput` and with `throughput_per_watt`): each one's best design, its throughput, power per chip,
energy per token and throughput per watt, and the ratios between them, matched by (model, HBM capacity).

    .venv/bin/python benchmarks/objective_compare.py <sweep dir A> <sweep dir B> [--record FILE]
    .venv/bin/python benchmarks/objective_compare.py FILE    # the tables again, from a saved record
    # e.g. after
    python -m phaze -m +experiment=paper_llms hydra.sweep.dir=outputs/pl_thr
    python -m phaze -m +experiment=paper_llms search.objective=throughput_per_watt hydra.sweep.dir=outputs/pl_tpw

`--record FILE` saves what the tables are made of (each matched job's objective and best-design entry) as JSON.
docs/energy.md §3 prints the tables of `tests/data/paper_llms_objectives.json`, a record of the two paper_llms
sweeps; `tests/test_energy_check.py` checks that the page shows exactly what this script prints from it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

Jobs = dict[tuple[str, float], dict[str, Any]]  # (model, HBM GiB) -> {"objective": ..., "best": ...}


def design_label(hw: dict[str, Any]) -> str:
    return (f"{hw['n_tc']} x {hw['tc_width']}x{hw['tc_depth']}, {hw['n_vc']} x {hw['vc_width']}, "
            f"{hw['glb_mib']:g} MiB / {hw['glb_banks']}")


def jobs(sweep: Path) -> Jobs:
    """(model, HBM GiB) -> the job's objective and best design, for every finished job of the sweep, in job order."""
    out = {}
    for d in sorted(sweep.iterdir(), key=lambda p: (len(p.name), p.name)):  # job 2 before job 10
        if not (d / "result.json").is_file():
            continue
        result = json.loads((d / "result.json").read_text())
        cfg = OmegaConf.load(d / "config.resolved.yaml")
        out[(str(result["model"]["name"]), float(cfg.hw.hbm_gib))] = {"objective": str(cfg.search.objective),
                                                                     "best": result["best"]}
    return out


RECORDED = ("index", "hardware", "area_mm2", "placement", "throughput_samples_s", "mfu", "power_w", "peak_power_w",
            "energy_per_token_j", "throughput_per_watt", "energy_parts_j", "on_boundary")  # of each best entry


def record(a: Jobs, b: Jobs) -> dict[str, Any]:
    """The jobs both sweeps finished, A's and B's, as JSON-ready lists (the `--record` file): each best design's
    fields the tables use and a few for context (`RECORDED`)."""
    def trimmed(best: Any) -> Any:
        return {k: best[k] for k in RECORDED if k in best} if isinstance(best, dict) else best

    both = [k for k in a if k in b]
    return {side: [{"model": k[0], "hbm_gib": k[1], "objective": jobs_[k]["objective"],
                    "best": trimmed(jobs_[k]["best"])} for k in both] for side, jobs_ in (("a", a), ("b", b))}


def from_record(data: dict[str, Any]) -> tuple[Jobs, Jobs]:
    def side(rows: list[dict[str, Any]]) -> Jobs:
        return {(r["model"], float(r["hbm_gib"])): {"objective": r["objective"], "best": r["best"]} for r in rows}

    return side(data["a"]), side(data["b"])


def tables(a: Jobs, b: Jobs) -> str:
    """The two markdown tables: every matched job's best design under each objective, then B's ratios over A's."""
    both = [k for k in a if k in b]
    if not both:
        raise SystemExit("no (model, HBM) job finished in both sweeps")
    lines = ["| model | HBM | objective | best design (tc, vc, buffer / banks) | area mm² | samples/s | W per chip "
             "(peak) | J/token | samples/s/W | placement |", "|---|---|---|---|---|---|---|---|---|---|"]
    ratios = []
    for key in both:
        rows = []
        for job in (a[key], b[key]):
            best, name = job["best"], job["objective"]
            if not isinstance(best, dict):
                lines.append(f"| {key[0]} | {key[1]:g} | {name} | {best} |")
                continue
            p = best["placement"]
            rows.append(best)
            lines.append(f"| {key[0]} | {key[1]:g} | {name} | {design_label(best['hardware'])} | "
                         f"{best['area_mm2']:.1f} | {best['throughput_samples_s']:,.1f} | {best['power_w']:.1f} "
                         f"({best['peak_power_w']:.1f}) | {best['energy_per_token_j']:.4g} | "
                         f"{best['throughput_per_watt']:.4g} | d={p['data']} p={p['pipeline']} t={p['tensor']} "
                         f"b={p['microbatch']} {p['recompute']} |")
        if len(rows) == 2:
            ratios.append((key, rows[1]["throughput_samples_s"] / rows[0]["throughput_samples_s"],
                           rows[1]["throughput_per_watt"] / rows[0]["throughput_per_watt"],
                           rows[1]["power_w"] / rows[0]["power_w"]))
    lines += ["", "| model | HBM | B / A samples/s | B / A samples/s/W | B / A W per chip |", "|---|---|---|---|---|"]
    lines += [f"| {model} | {hbm:g} | {thr:.3f} | {tpw:.3f} | {watts:.3f} |"
              for (model, hbm), thr, tpw, watts in ratios]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path, help="sweep directory A, or a --record file")
    ap.add_argument("b", type=Path, nargs="?", help="sweep directory B")
    ap.add_argument("--record", type=Path, help="also save the matched jobs here (JSON)")
    args = ap.parse_args()
    if args.b is None:
        a, b = from_record(json.loads(args.a.read_text()))
    else:
        a, b = jobs(args.a), jobs(args.b)
    if args.record is not None:
        args.record.write_text(json.dumps(record(a, b), indent=1, sort_keys=True) + "\n")
    first = next((k for k in a if k in b), None)
    if first is not None:
        print(f"A: search.objective={a[first]['objective']}; B: search.objective={b[first]['objective']}")
    print(tables(a, b), end="")


if __name__ == "__main__":
    main()
