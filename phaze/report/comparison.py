"""The comparison table a sweep ends with: one row per job (model x HBM), best design, its power and throughput
per watt, against every baseline by the job's `search.objective`.

Built from the jobs' result.json files only, so it can be regenerated from a sweep directory at any time:
`python -m phaze.report.comparison <sweep dir>`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from phaze.search.scores import objective_ratio

BASELINES = ("tpuv4", "tpuv4_phaze", "spotlight", "spotlight_oracle")


def _job_rows(sweep_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(sweep_dir.glob("*/result.json"), key=lambda p: (len(p.parent.name), p.parent.name)):
        result = json.loads(path.read_text())
        cfg_path = path.parent / "config.resolved.yaml"
        hbm = _hbm(cfg_path.read_text()) if cfg_path.is_file() else "?"
        rows.append({"job": path.parent.name, "hbm": hbm, "result": result})
    return rows


def _hbm(text: str) -> str:
    from omegaconf import OmegaConf

    return f"{float(OmegaConf.create(text).hw.hbm_gib):g}"


def _throughput(entry: Any) -> str:
    return f"{entry['throughput_samples_s']:,.1f}" if isinstance(entry, dict) else "infeasible"


def _ratio(best: Any, entry: dict[str, Any], objective: str) -> str:
    """The baseline column: phaze's best over the baseline by the job's objective: the throughput ratio under
    `throughput`, else the entry's `objective_ratio`, or (a result.json written before it) the same ratio from the
    two entries' figures; "-" where a side has no figure."""
    if objective == "throughput":
        ratio = entry.get("speedup")
    elif entry.get("objective_ratio") is not None:
        ratio = entry["objective_ratio"]
    else:
        ratio = objective_ratio(best, entry, objective)
    return f"{ratio:.2f}" if ratio else "-"


def comparison_markdown(sweep_dir: Path) -> str:
    head = ["job", "model", "HBM GiB", "objective", "best design (n_tc x WxD, n_vc x W_vc, GLB MiB)", "area mm²",
            "samples/s", "MFU", "W per chip", "samples/s/W", *(f"x {b}" for b in BASELINES)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in _job_rows(sweep_dir):
        r = row["result"]
        best = r.get("best")
        objective = str((r.get("search") or {}).get("objective") or "throughput")
        if isinstance(best, dict) and "hardware" in best:
            hw = best["hardware"]
            design = (f"{hw['n_tc']} x {hw['tc_width']}x{hw['tc_depth']}, {hw['n_vc']} x {hw['vc_width']}, "
                      f"{hw['glb_mib']:g}")
            area, mfu = f"{best['area_mm2']:.1f}", f"{best['mfu']:.1%}"
            watts = f"{best['power_w']:.1f}" if best.get("power_w") is not None else "-"
            per_watt = f"{best['throughput_per_watt']:.4g}" if best.get("throughput_per_watt") is not None else "-"
        else:
            design, area, mfu, watts, per_watt = str(best), "-", "-", "-", "-"
        ratios = [_ratio(best, r.get("baselines", {}).get(name, {}), objective) for name in BASELINES]
        lines.append("| " + " | ".join([row["job"], r["model"]["name"], row["hbm"], objective, design, area,
                                         _throughput(best), mfu, watts, per_watt, *ratios]) + " |")
    return "\n".join(lines) + "\n"


def write_comparison(sweep_dir: Path) -> Path | None:
    if not any(sweep_dir.glob("*/result.json")):
        return None
    path = sweep_dir / "comparison.md"
    path.write_text(f"# {sweep_dir.name}\n\nx baseline = phaze's best over the baseline's by the job's objective: "
                    "throughput, samples/s/mm², or samples per joule (throughput_per_watt and energy_per_token); "
                    "W per chip = mean power.\n\n" + comparison_markdown(sweep_dir))
    return path


if __name__ == "__main__":
    out = write_comparison(Path(sys.argv[1]))
    print(out.read_text() if out else "no result.json under that directory")
