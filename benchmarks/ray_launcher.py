"""The Hydra Ray launcher as docs/scale_out.md documents it, checked on a Ray cluster bound to 127.0.0.1.

Starts a one-node cluster with `ray start --head` in a directory of its own (as a cluster is: its workers run
there, not where phaze is started), runs a two-job sweep from another directory with

    python -m phaze -m hydra/launcher=ray hydra.launcher.ray.init.address=127.0.0.1:PORT \\
        ++hydra.launcher.ray.init.object_store_memory=null hw.hbm_gib=16,32 search.workers=1 ...

and prints what it checks: the sweep folder (default, absolute) in the launching directory holds both jobs'
result.json and comparison.md, the MLflow database (default relative sqlite path) holds the sweep's parent
run with both jobs nested under it, nothing was written in the cluster's directory, and the same command
without the object_store_memory override fails. Then it stops the cluster (its own process group). About a
minute; not in the test suite for that reason. Run: .venv/bin/python benchmarks/ray_launcher.py
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# a few hundred candidates (BERT-large on 32 devices): seconds per job
TINY = ["model=bert_large", "hw.space.n_tc.max=4", "hw.space.n_vc.max=4", "hw.space.tc_width.max=32",
        "hw.space.tc_depth.max=32", "hw.space.glb_mib.max=4", "hw.space.min_area_fraction=0",
        "parallelism.devices=32", "parallelism.global_batch=64", "parallelism.microbatch_sizes=[1,2]",
        "parallelism.tensor_widths=[1,2]", "solver=greedy", "search.progress=false", "search.spotlight.evaluations=20"]
START_TIMEOUT_S = 120
STOP_GRACE_S = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise SystemExit(f"the Ray head did not open 127.0.0.1:{port} within {timeout:.0f} s")


def check(name: str, ok: bool) -> bool:
    print(f"  [{'ok' if ok else 'FAIL'}] {name}")
    return ok


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="phaze-raylaunch-"))
    cluster_dir, driver_dir = root / "cluster", root / "driver"
    cluster_dir.mkdir()
    driver_dir.mkdir()
    # loopback only, no usage statistics, and a token of this script's own for the cluster and the driver
    env = os.environ | {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
                        "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    port = free_port()
    ray_bin = str(Path(sys.executable).with_name("ray"))
    head = subprocess.Popen([ray_bin, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                             "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
                             f"--temp-dir={root / 'ray'}", "--block"], cwd=cluster_dir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(port, START_TIMEOUT_S)
        print(f"Ray head on 127.0.0.1:{port}, started in {cluster_dir}")
        base = [sys.executable, "-m", "phaze", "-m", "hydra/launcher=ray",
                f"hydra.launcher.ray.init.address=127.0.0.1:{port}", *TINY, "hw.hbm_gib=16,32", "search.workers=1"]
        t0 = time.perf_counter()
        bad = subprocess.run(base, cwd=driver_dir, env=env, capture_output=True, text=True, timeout=600)
        print(f"without ++hydra.launcher.ray.init.object_store_memory=null: exit {bad.returncode} "
              f"({(bad.stderr.strip().splitlines() or [''])[-1][:160]})")
        run = subprocess.run([*base, "++hydra.launcher.ray.init.object_store_memory=null"], cwd=driver_dir, env=env,
                             capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - t0
        print(f"with it: exit {run.returncode} in {wall:.0f} s (both commands)")
        if run.returncode != 0:
            print(run.stderr[-3000:])
        sweeps = sorted(driver_dir.glob("outputs/multirun/*/*"))
        sweep = sweeps[-1] if sweeps else driver_dir / "missing"
        results = sorted(sweep.glob("*/result.json"))
        oks = [check("the override is still needed (Ray refuses object_store_memory when joining a cluster)",
                     bad.returncode != 0),
               check("the sweep with the override succeeds", run.returncode == 0),
               check(f"both jobs' result.json in the launching directory's sweep folder {sweep}", len(results) == 2),
               check("comparison.md written there, one row per job",
                     (sweep / "comparison.md").is_file()
                     and (sweep / "comparison.md").read_text().count("| bert_large |") == 2),
               check("nothing written in the cluster's directory", not any(cluster_dir.iterdir()))]
        db = driver_dir / "outputs" / "mlflow.db"
        nested = 0
        if db.is_file() and (sweep / "mlflow_parent_run_id").is_file():
            from mlflow.tracking import MlflowClient

            client = MlflowClient(tracking_uri=f"sqlite:///{db}")
            parent = (sweep / "mlflow_parent_run_id").read_text().strip()
            exp = client.get_run(parent).info.experiment_id
            nested = len(client.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'"))
        oks.append(check(f"the MLflow sweep run in {db} has both jobs nested under it (found {nested})", nested == 2))
        return 0 if all(oks) else 1
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(STOP_GRACE_S)
        with contextlib.suppress(ProcessLookupError):  # `ray start --block` leaves some processes on SIGTERM
            os.killpg(head.pid, signal.SIGKILL)
        print(f"Ray head stopped (process group {head.pid}); files in {root}")


if __name__ == "__main__":
    raise SystemExit(main())
