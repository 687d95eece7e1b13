"""Per job of a finished sweep: the best design, what bounds its block, the searched axes it sits on the edge of,
and its speedup over each baseline; for each edge axis, the best throughput one step inside it (from the job's
candidates.parquet), so a design on the boundary shows with numbers what moving off it costs.

    .venv/bin/python benchmarks/sweep_report.py outputs/multirun/<date>/<time>
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf

AXES = ("n_tc", "n_vc", "tc_width", "tc_depth", "glb_mib", "glb_banks")
BOUND_KEYS = ("compute", "global_buffer", "hbm", "vector", "link", "control")


def design_label(hw: dict[str, Any]) -> str:
    return (f"{hw['n_tc']}x{hw['tc_width']}x{hw['tc_depth']} tc, {hw['n_vc']}x{hw['vc_width']} vc, "
            f"{hw['glb_mib']:g} MiB/{hw.get('glb_banks', '?')} banks")


def bound_label(bound: dict[str, float] | None) -> str:
    if not bound:
        return "-"
    top = sorted(((bound[k], k) for k in BOUND_KEYS if bound.get(k, 0) >= 0.01), reverse=True)[:3]
    return ", ".join(f"{k} {v:.0%}" for v, k in top)


def inward(df: pd.DataFrame, axis: str, value: float, end: str) -> str:
    """Best feasible throughput among candidates one power-of-two step inside `axis`'s end."""
    values = sorted(df[axis].unique())
    i = values.index(value)
    j = i + 1 if end == "min" else i - 1
    if not 0 <= j < len(values):
        return f"{axis}: no value inside"
    sub = df[(df[axis] == values[j]) & df["throughput_samples_s"].notna()]
    if sub.empty:
        return f"{axis}={values[j]:g}: no feasible design"
    row = sub.sort_values("throughput_samples_s", ascending=False).iloc[0]
    return f"{axis}={values[j]:g}: best {row['throughput_samples_s']:,.1f} samples/s ({row['area_mm2']:.1f} mm²)"


def job_row(job: Path) -> dict[str, Any] | None:
    res_path = job / "result.json"
    if not res_path.exists():
        return None
    res = json.loads(res_path.read_text())
    best = res.get("best")
    if not isinstance(best, dict):
        return {"job": job.name, "model": res["model"]["name"], "best": str(best)}
    hw = best["hardware"]
    df = pd.read_parquet(job / "candidates.parquet") if (job / "candidates.parquet").exists() else None
    edges = best.get("on_boundary", {})
    speedups = {name: entry.get("speedup") for name, entry in res.get("baselines", {}).items()}
    resolved = job / "config.resolved.yaml"
    hbm = OmegaConf.load(resolved).hw.hbm_gib if resolved.exists() else None
    return {
        "job": job.name, "model": res["model"]["name"], "hbm_gib": hbm,
        "best": design_label(hw), "area_mm2": best["area_mm2"], "samples_s": best["throughput_samples_s"],
        "mfu": best["mfu"], "bound": bound_label(best.get("bound")), "edges": edges,
        "inward": [inward(df, a, float(hw[a]), end) for a, end in edges.items()] if df is not None else [],
        "speedups": speedups,
        "baseline_bounds": {name: bound_label(entry["best"].get("bound")) for name, entry in
                            res.get("baselines", {}).items() if isinstance(entry.get("best"), dict)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep", type=Path)
    args = ap.parse_args()
    jobs = sorted((p for p in args.sweep.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    for job in jobs:
        row = job_row(job)
        if row is None:
            print(f"job {job.name}: no result.json")
            continue
        if "samples_s" not in row:
            print(f"job {row['job']} {row['model']}: {row['best']}")
            continue
        sp = ", ".join(f"{k} {v:.2f}x" for k, v in row["speedups"].items() if v)
        print(f"job {row['job']} {row['model']} @{row['hbm_gib']:g} GiB: {row['best']} ({row['area_mm2']:.1f} mm²) "
              f"{row['samples_s']:,.1f} samples/s, MFU {row['mfu']:.1%}")
        print(f"    bound by: {row['bound']}")
        print(f"    edges: {row['edges'] or 'none'}")
        for line in row["inward"]:
            print(f"      one step inside {line}")
        print(f"    speedup: {sp}")
        for name, b in row["baseline_bounds"].items():
            print(f"    {name} bound by: {b}")


if __name__ == "__main__":
    main()
