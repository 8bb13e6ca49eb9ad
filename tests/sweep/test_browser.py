"""The MLflow UI as a person sees it, in a real headless Chromium (Debian's `chromium`,
driven by Playwright): `haco ui`'s link opens the study's runs; the launch's parent run
expands to its trials, named by their row labels, FINISHED; a trial's heatmap renders.
Skipped where no Chromium is installed; CI installs it (.ci/run). Screenshots go to
$HACO_SCREENSHOTS when set, for a person to look at."""

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from haco import tracking, ui
from haco.config import load_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed")]


@pytest.fixture
def served_study(study, tmp_path):
    """A finished two-row smoke loss study, served by `haco ui`'s server."""
    from haco.sweep import launch

    cfg, args = study("losses", "sweep.rows=[CE loss,'VCB loss (Ours)']")
    assert launch(cfg, args) == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ui_cfg = load_config("ui", [f"port={port}", f"mlflow.tracking_uri={cfg.mlflow.tracking_uri}",
                                f"mlflow.artifact_root={cfg.mlflow.artifact_root}"])
    server = subprocess.Popen(ui.server_command(ui_cfg), env=ui.server_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        assert ui.wait_until_up(base, server)
        yield cfg, base
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser.new_page(viewport={"width": 1400, "height": 900})
        browser.close()


def shot(page, name: str) -> None:
    folder = os.environ.get("HACO_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def test_the_study_link_shows_parent_trials_and_a_heatmap(served_study, page):
    cfg, base = served_study
    page.goto(ui.study_links(cfg, base)["losses"])
    parent = page.locator("div[role=gridcell]", has_text="losses 20").first
    parent.wait_for(timeout=60000)
    shot(page, "1-study-runs")
    parent.locator("button").first.click()  # expand the launch's parent: its trials
    for name in ("CE loss s0", "VCB loss (Ours) s0"):
        page.get_by_text(name, exact=True).wait_for(timeout=30000)
    shot(page, "2-trials-expanded")

    client = tracking.client(cfg)
    experiment = tracking.experiment_id(client, cfg, "losses")
    run = client.search_runs([experiment], filter_string="tags.`haco.row` = 'CE loss'")[0]
    page.goto(f"{base}/#/experiments/{experiment}/runs/{run.info.run_id}")
    page.get_by_text("Finished", exact=False).first.wait_for(timeout=30000)
    shot(page, "3-trial-run")
    page.goto(f"{base}/#/experiments/{experiment}/runs/{run.info.run_id}/artifacts"
              "?workflowType=machine_learning")
    page.get_by_text("environment.txt", exact=True).wait_for(timeout=30000)  # provenance
    page.get_by_text("heatmap_MOW.png", exact=True).first.click()
    image = page.locator("img[src^='blob:']").first
    image.wait_for(timeout=30000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=image.element_handle(), timeout=30000)
    shot(page, "4-heatmap")
