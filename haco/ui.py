"""`haco ui`: the MLflow UI over a store, light enough for a laptop, with a link per study.

One worker process and no background job consumers (MLflow's GenAI job runner): on two
cores the default (4 workers, a job queue) costs gigabytes for nothing a study needs.
Each study's link opens its runs in the model-training view (MLflow 3 opens an experiment
in its GenAI view, which shows no runs).

Run: haco ui [port=5000 open=true mlflow.tracking_uri=...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import webbrowser

from haco import ledger, tracking

RUNS_VIEW = "#/experiments/{id}/runs?workflowType=machine_learning"
START_SECONDS = 60


def study_links(cfg, base: str) -> dict[str, str]:
    """{study: URL of its runs in the model-training view} for every study in the store."""
    found = ledger.studies(tracking.client(cfg))
    return {study: f"{base}/{RUNS_VIEW.format(id=eid)}" for study, eid in sorted(found.items())}


def server_command(cfg) -> list[str]:
    args = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri",
            tracking.tracking_uri(cfg), "--host", "127.0.0.1", "--port", str(cfg.port),
            "--workers", str(cfg.workers)]
    root = tracking.artifact_root(cfg)
    return args + (["--default-artifact-root", root] if root else [])


def server_env() -> dict[str, str]:
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def wait_until_up(base: str, server: subprocess.Popen) -> bool:
    """True once the server answers /health; False if it exited or did not start."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and server.poll() is None:
        try:
            urllib.request.urlopen(f"{base}/health", timeout=2)
            return True
        except OSError:
            time.sleep(0.5)
    return False


def ui_command(cfg) -> int:
    base = f"http://127.0.0.1:{cfg.port}"
    server = subprocess.Popen(server_command(cfg), env=server_env())
    try:
        if not wait_until_up(base, server):
            print(f"haco ui: the MLflow UI did not start on {base} (is the port taken? try "
                  "port=5001)", file=sys.stderr)
            server.terminate()
            return server.wait() or 1
        links = study_links(cfg, base)
        print(f"MLflow UI on {base} over {tracking.tracking_uri(cfg)} (Ctrl-C stops)")
        for study, url in links.items():
            print(f"  {study:<10} {url}")
        if not links:
            print("  no study in this store yet: run one, e.g. python sweeps/losses.py")
        if cfg.open:
            webbrowser.open(next(iter(links.values()), base))
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        return server.wait()
