"""One GPT-3 search on 1 vs 2 local Ray workers (search.executor=ray), and its result.json against the local run.

Runs `python -m phaze model=gpt3_175b <space> search.executor=ray search.workers=N` for N = 1 and 2 (each starts
its own Ray on 127.0.0.1 with N CPUs and stops it) and the same search with `search.executor=local`, then
prints per run the wall time of the whole command, the search itself (`search_s`: Stage A, plan, chunks; the
baselines and files come after it, in the job process) and its Stage A and chunk parts, the speedup of 2
workers over 1, and whether the three result.json files are byte-identical. The space defaults to
GLB <= 16 MiB (a reduced space; the count is printed) to keep it to a few minutes.

    python benchmarks/ray_search.py [--space hw.space.glb_mib.max=16 ...] [--hbm 32]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(out: Path, overrides: list[str]) -> dict[str, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "phaze", *overrides, f"hydra.run.dir={out}",
                           f"search.cache_dir={out}-cache"], cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(overrides)} failed:\n{proc.stderr[-3000:]}")
    timings = json.loads((out / "timings.json").read_text())
    return {"wall_s": wall, **{k: float(v) for k, v in timings.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", nargs="*", default=["hw.space.glb_mib.max=16"])
    parser.add_argument("--hbm", type=float, default=32)
    args = parser.parse_args()
    base = ["model=gpt3_175b", *args.space, f"hw.hbm_gib={args.hbm:g}", "search.progress=false", "tracking=none"]
    load = os.getloadavg()
    print(f"gpt3_175b, {' '.join(args.space)}, HBM {args.hbm:g} GiB; {os.cpu_count()} cores, "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) at the start")
    cases = {"ray, 1 worker": ["search.executor=ray", "search.workers=1"],
             "ray, 2 workers": ["search.executor=ray", "search.workers=2"],
             "local, 2 workers": ["search.executor=local", "search.workers=2"]}
    with tempfile.TemporaryDirectory() as tmp:
        results, figures = {}, {}
        for i, (name, extra) in enumerate(cases.items()):
            out = Path(tmp) / f"run{i}"
            figures[name] = f = run(out, [*base, *extra])
            results[name] = (out / "result.json").read_bytes()
            print(f"{name:17s} wall {f['wall_s']:6.1f} s   search {f['search_s']:6.1f} s   "
                  f"(Stage A {f['stage_a_s']:5.1f} s, plan {f['plan_s']:4.1f} s, chunks {f['evaluate_s']:5.1f} s, "
                  f"{f['pairs_on_workers']:,.0f} pairs on workers)")
        one, two = figures["ray, 1 worker"], figures["ray, 2 workers"]
        print(f"2 Ray workers vs 1: search {one['search_s'] / two['search_s']:.2f}x, "
              f"Stage A {one['stage_a_s'] / two['stage_a_s']:.2f}x, whole command {one['wall_s'] / two['wall_s']:.2f}x")
        same = len(set(results.values())) == 1
        print(f"result.json byte-identical across the three runs: {same}")
        if not same:  # which top-level fields differ (git_commit does when a commit lands mid-benchmark)
            parsed = {k: json.loads(v) for k, v in results.items()}
            ref = parsed["local, 2 workers"]
            for name, r in parsed.items():
                diff = sorted(k for k in ref.keys() | r.keys() if ref.get(k) != r.get(k))
                print(f"  {name}: fields differing from the local run: {diff or 'none (formatting only)'}")
    load = os.getloadavg()
    print(f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")


if __name__ == "__main__":
    main()
