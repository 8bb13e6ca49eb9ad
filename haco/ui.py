"""`haco ui`: the MLflow UI over a store, light enough for a laptop, with a link per study.

One worker process and no background job consumers (MLflow's GenAI job runner): on two
cores the default (4 workers, a job queue) costs gigabytes for nothing a study needs.
Each study's link opens its runs in the model-training view (MLflow 3 opens an experiment
in its GenAI view, which shows no runs).

SIGTERM or SIGINT (Ctrl-C) stops the server's whole process tree, then haco ui exits 0.

Run: haco ui [port=5000 open=true mlflow.tracking_uri=...]
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import webbrowser
from collections.abc import Iterator

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
    """Serve until the server exits, or until SIGTERM or SIGINT (Ctrl-C), which stop the
    whole server tree and exit 0: a UI asked to stop has done its job."""
    base = f"http://127.0.0.1:{cfg.port}"
    # The store is opened here first (checked, backed up, migrated: haco.tracking), so a
    # damaged one is one clear error before any server starts, and the server, which would
    # migrate it too, finds it ready.
    links = study_links(cfg, base)
    server = start_server(cfg)
    try:
        with stop_signals_raised():
            try:
                return serve(cfg, base, server, links)
            finally:
                stop_server(server)
    except StopAsked:
        return 0


def start_server(cfg) -> subprocess.Popen:
    """The MLflow server in a session of its own: its uvicorn/gunicorn children share its
    process group, so one signal to the group reaches the whole tree (terminating the
    direct child alone left them serving), and a Ctrl-C in the terminal reaches haco ui
    only, which stops the group itself."""
    return subprocess.Popen(server_command(cfg), env=server_env(), start_new_session=True)


def serve(cfg, base: str, server: subprocess.Popen, links: dict[str, str]) -> int:
    if not wait_until_up(base, server):
        print(f"haco ui: the MLflow UI did not start on {base} (is the port taken? try "
              "port=5001)", file=sys.stderr)
        return server.poll() or 1
    print(f"MLflow UI on {base} over {tracking.tracking_uri(cfg)} (Ctrl-C stops)")
    for study, url in links.items():
        print(f"  {study:<10} {url}")
    if not links:
        print("  no study in this store yet: run one, e.g. python sweeps/losses.py")
    if cfg.open:
        webbrowser.open(next(iter(links.values()), base))
    return server.wait()


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
STOP_SECONDS = 10  # how long the server has to exit on SIGTERM before it is killed


class StopAsked(Exception):
    """SIGTERM or SIGINT reached haco ui."""


@contextlib.contextmanager
def stop_signals_raised() -> Iterator[None]:
    """SIGTERM and SIGINT raise StopAsked (SIGTERM would otherwise end haco ui at once,
    without a word to its server), the previous handlers back afterwards."""
    def stop(signum, frame):
        raise StopAsked(signal.Signals(signum).name)
    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def stop_server(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, up to STOP_SECONDS for all of it to exit,
    then SIGKILL to what is left. Signals meanwhile are ignored: the stop is under way."""
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in STOP_SIGNALS}
    try:
        signal_group(server.pid, signal.SIGTERM)
        if not group_gone(server, STOP_SECONDS):
            signal_group(server.pid, signal.SIGKILL)
            group_gone(server, STOP_SECONDS)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def signal_group(group: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # every process of it has exited
        os.killpg(group, number)


def group_gone(server: subprocess.Popen, seconds: float) -> bool:
    """Wait up to `seconds` until no process of the server's group is left; whether none
    is. The server itself is reaped here (until then it counts, as a zombie)."""
    deadline = time.monotonic() + seconds
    while True:
        server.poll()
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
