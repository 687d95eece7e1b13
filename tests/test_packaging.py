"""The wheel is a working phaze on its own: built offline from a copy of the source, installed into a fresh
virtual environment, and run as the `phaze` console script from a directory with no source tree in sight.

The fresh venv gets phaze only from the wheel (`pip install --no-deps --no-index`); its third-party
dependencies come from this test venv's site-packages through a `.pth` line (tests have no network, and
the pins are the ones this venv resolved). A path added by a `.pth` line has its own `.pth` files ignored,
so this venv's editable phaze hook is not active there, and the test checks where phaze was imported from.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from conftest import ROOT, read_csv

MODELS = {r["name"]: int(r["params_total"]) for r in read_csv("models.csv")}  # peer tools' counts (HF configs)
BERT_LARGE_PARAMS = MODELS["bert_large"]
# a few hundred candidates x 4 settings with the greedy solver: seconds (the same space as test_search.TINY)
TINY_SEARCH = ["model=bert_large", "hw.space.n_tc.max=4", "hw.space.n_vc.max=4", "hw.space.tc_width.max=32",
               "hw.space.tc_depth.max=32", "hw.space.glb_mib.max=4", "hw.space.min_area_fraction=0",
               "parallelism.devices=32", "parallelism.global_batch=64", "parallelism.microbatch_sizes=[1,2]",
               "parallelism.tensor_widths=[1,2]", "search.chunk_size=8", "solver=greedy", "search.workers=1",
               "search.progress=false", "search.spotlight.evaluations=12", "tracking=none"]


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{args[:3]}: {proc.stdout[-1500:]}\n{proc.stderr[-3000:]}"
    return proc


def _build_wheel(tmp: Path, env: dict[str, str]) -> Path:
    """`pip wheel` of a copy of the sources (the build leaves build/ and *.egg-info beside them)."""
    src = tmp / "src"
    shutil.copytree(ROOT / "phaze", src / "phaze", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(tmp / "dist"), str(src)], tmp, env, timeout=180)
    (wheel,) = (tmp / "dist").glob("phaze-*.whl")
    return wheel


def test_wheel_installs_and_runs_outside_the_source_tree(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env |= {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    wheel = _build_wheel(tmp_path, env)
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in ("phaze/conf/config.yaml", "phaze/conf/hw/search.yaml", "phaze/conf/experiment/quickstart.yaml",
                    "phaze/data/hardware.csv", "phaze/__main__.py"):
        assert shipped in names, shipped

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    py, exe = venv / "bin" / "python", venv / "bin" / "phaze"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp_path, env).stdout.strip())
    (site / "test-venv-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], tmp_path, env)

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([str(py), "-c", "import phaze, phaze.config as c; print(phaze.__file__); print(c.CONF_DIR)"],
                 work, env).stdout.split()
    assert all(Path(p).is_relative_to(site) for p in where), where  # not the source tree, not this venv

    inspect = _run([str(exe), "task=inspect", "model=bert_large", "tracking=none"], work, env)
    assert f"bert_large: {BERT_LARGE_PARAMS:,} parameters" in inspect.stdout
    (result,) = (work / "outputs" / "runs").glob("*/*-inspect-bert_large/result.json")  # Hydra's run dir, here
    assert json.loads(result.read_text())["model"]["params_total"] == BERT_LARGE_PARAMS

    # a user's own experiment next to the installed package's configs, through Hydra's search path
    (work / "myconf" / "experiment").mkdir(parents=True)
    (work / "myconf" / "experiment" / "mine.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /model: gpt2_xl\nexperiment_name: mine\n")
    mine = _run([str(exe), "task=inspect", "+experiment=mine", f"hydra.searchpath=[file://{work / 'myconf'}]",
                 "tracking=none", "hydra.run.dir=mine"], work, env)
    assert f"gpt2_xl: {MODELS['gpt2_xl']:,} parameters" in mine.stdout

    _run([str(exe), *TINY_SEARCH, "hydra.run.dir=search"], work, env, timeout=240)
    found = json.loads((work / "search" / "result.json").read_text())
    assert found["task"] == "search" and found["search"]["candidates"] > 100
    assert found["best"]["throughput_samples_s"] > 0 and found["best"]["placement"]["data"] >= 1
    assert found["git_commit"] is None  # an installed copy is no checkout
    assert (work / "search" / "pareto.png").stat().st_size > 0
    assert (work / "outputs" / "cache").is_dir()  # caches go under the working directory, not site-packages
