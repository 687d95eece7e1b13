"""The MLflow UI in a real browser: a finished 2-job sweep on a local `mlflow server`, opened in headless
Chromium (Debian's package) driven by Playwright (PyPI), at the URL phaze prints (docs/tracking.md).

Chromium comes from `apt-get install chromium` (`.ci/run` installs it), never from `playwright install`.
Without it the test skips locally and fails in CI (CI=true), so CI always runs it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from mlflow import MlflowClient
from test_search import TINY

from phaze.tracking.labels import KIND_COLORS
from phaze.tracking.ui import VIEW_KEY, VIEW_PARAM

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGE_TIMEOUT_MS = 60_000  # first load of the UI's bundle on 2 busy cores
VIEWPORT = {"width": 1800, "height": 2400}  # tall enough that the table renders every run of the sweep
HBMS = (16, 32)  # the 32 GiB job has no separate `@32 GiB` baselines: they would duplicate its own
BASELINES = ("tpuv4", "tpuv4_phaze", "spotlight", "spotlight_oracle")
URL_LINE = re.compile(r"^mlflow: runs table (\S+)", re.MULTILINE)


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # --no-sandbox: CI and the dev machines run as root, where Chromium's sandbox refuses to start.
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def sweep(mlflow_server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`python -m phaze ... -m` over two HBM capacities, logged to the server; its printed URLs and runs."""
    url, _ = mlflow_server
    tmp = tmp_path_factory.mktemp("browser")
    proc = run_cli(*TINY, "solver=greedy", "search.progress=false", "search.spotlight.evaluations=10",
                   f"hw.hbm_gib={','.join(map(str, HBMS))}", f"hydra.sweep.dir={tmp / 'sweep'}",
                   f"search.cache_dir={tmp / 'cache'}", f"tracking.uri={url}", "tracking.experiment=browser",
                   "-m", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(tracking_uri=url)
    exp = client.get_experiment_by_name("browser")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return {"url": url, "exp": exp, "printed": URL_LINE.findall(proc.stdout), "runs": runs}


def test_printed_url_is_the_runs_table(sweep: dict[str, Any], browser: Any) -> None:
    """After every job and after the sweep, phaze prints the runs table's URL; it opens the runs table (not
    the GenAI overview), showing the sweep run named for what it sweeps."""
    exp = sweep["exp"]
    expected = f"{sweep['url']}/#/experiments/{exp.experiment_id}/runs?workflowType=machine_learning"
    assert sweep["printed"] == [expected] * (len(HBMS) + 1)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(expected)
        page.get_by_text("sweep hw.hbm_gib=16,32", exact=True).first.wait_for(timeout=PAGE_TIMEOUT_MS)
        assert page.locator("[data-testid='sort-header-Run Name']").count() == 1  # the runs table's header
    finally:
        page.close()


def test_saved_view_shows_every_job_and_baseline(sweep: dict[str, Any], browser: Any) -> None:
    """The saved view: every job and every baseline by name, the metric columns, a colour per kind."""
    runs = sweep["runs"]
    jobs = [r.info.run_name for r in runs if r.info.run_name.startswith("search-")]
    assert len(jobs) == len(HBMS)
    # each baseline at the job's HBM; the fixed ones again @32 GiB only under the 16 GiB job
    want = {f"{b} @{h} GiB" for b in BASELINES for h in HBMS}
    baselines = [r.info.run_name for r in runs if r.data.tags.get("candidate.kind") in BASELINES]
    assert sorted(baselines) == sorted([*want, "tpuv4 @32 GiB", "tpuv4_phaze @32 GiB"])
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(f"{sweep['url']}/#/experiments/{sweep['exp'].experiment_id}/runs?workflowType=machine_learning"
                  f"&{VIEW_PARAM}={VIEW_KEY}")
        page.get_by_text(jobs[0], exact=True).first.wait_for(timeout=PAGE_TIMEOUT_MS)
        shown = set(page.locator("a").all_inner_texts())
        assert set(jobs) | want <= shown, sorted(set(jobs) | want - shown)
        headers = set(page.locator("[data-testid^='sort-header-']").all_inner_texts())
        assert {"rank", "mfu", "area_mm2", "memory_per_device_gib", "speedup_vs_tpuv4"} <= headers, headers
        colors = set(page.locator("[data-testid='experiment-view-table-run-color']").all_inner_texts())
        assert {KIND_COLORS[k] for k in ("job", "sweep", "pareto", *BASELINES)} <= colors, colors
        # its Chart view opens on the scatter of area against throughput
        page.goto(page.url + "&compareRunsMode=CHART")
        page.get_by_text("area_mm2 vs. throughput_samples_s").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    finally:
        page.close()
