"""haco.ui: a light MLflow UI with a link per study to its runs."""

import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from haco import tracking, ui
from haco.cli import main
from haco.config import load_config


class FakeServer:
    def __init__(self, args, env):
        self.args, self.env = args, env

    def poll(self):
        return None

    def wait(self):
        return 0

    def terminate(self):
        pass


def ui_cfg(tmp_path, port=5123):
    return load_config("ui", [f"port={port}",
                              f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db"])


def test_ui_serves_the_store_on_localhost_with_one_worker_and_no_job_runner(
        tmp_path, monkeypatch, capsys):
    cfg = ui_cfg(tmp_path)
    client = tracking.client(cfg)
    experiment = tracking.experiment_id(client, cfg, "losses")
    started, stopped = [], []
    monkeypatch.setattr(ui.subprocess, "Popen", lambda args, env, start_new_session:
                        started.append(FakeServer(args, env)) or started[-1])
    monkeypatch.setattr(ui, "wait_until_up", lambda base, server: True)
    monkeypatch.setattr(ui, "stop_server", stopped.append)
    assert ui.ui_command(cfg) == 0
    args, env = started[0].args, started[0].env
    assert stopped == started  # whatever is left of its tree is stopped on the way out
    assert args[1:4] == ["-m", "mlflow", "ui"]
    assert args[args.index("--host") + 1] == "127.0.0.1"
    assert args[args.index("--port") + 1] == "5123"
    assert args[args.index("--workers") + 1] == "1"
    assert args[args.index("--backend-store-uri") + 1] == f"sqlite:///{tmp_path}/mlflow.db"
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    out = capsys.readouterr().out
    assert (f"losses     http://127.0.0.1:5123/#/experiments/{experiment}/runs"
            "?workflowType=machine_learning") in out


def test_ui_help_prints_what_it_does_and_starts_nothing(monkeypatch, capsys):
    monkeypatch.setattr(ui.subprocess, "Popen", lambda *a, **k: pytest.fail("started"))
    assert main(["ui", "--help"]) == 0
    out = capsys.readouterr().out
    assert "haco ui" in out and "port=5000" in out and "open" in out


@pytest.mark.slow  # starts a real server
def test_the_printed_link_answers_from_a_real_ui(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = ui_cfg(tmp_path, port)
    client = tracking.client(cfg)
    tracking.experiment_id(client, cfg, "losses")
    server = subprocess.Popen(ui.server_command(cfg), env=ui.server_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        assert ui.wait_until_up(base, server)
        link = ui.study_links(cfg, base)["losses"]
        assert urllib.request.urlopen(link.split("#")[0], timeout=10).status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_damaged_store_stops_haco_ui_before_any_server_starts(
        damaged_store, assert_damage_reported, monkeypatch, capsys):
    monkeypatch.setattr(ui.subprocess, "Popen", lambda *a, **k: pytest.fail("started"))
    assert main(["ui", f"mlflow.tracking_uri=sqlite:///{damaged_store}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("haco: ") and "Traceback" not in err
    assert_damage_reported(err, damaged_store)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
        return True
    except OSError:
        return False


def alive(process) -> bool:
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow  # starts a real server (about 15 s each here)
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_haco_ui_stops_its_whole_server_tree(tmp_path, stop):
    import psutil

    port = free_port()
    store = f"sqlite:///{tmp_path}/mlflow.db"
    tracking.open_client(store)  # made here (a copy of the tests' template): no migration
    haco_ui = subprocess.Popen([sys.executable, "-m", "haco.cli", "ui", f"port={port}",
                                "open=false", f"mlflow.tracking_uri={store}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree = [psutil.Process(haco_ui.pid)]
    try:
        health = f"http://127.0.0.1:{port}/health"
        deadline = time.monotonic() + 90
        while not answers(health):
            assert haco_ui.poll() is None and time.monotonic() < deadline, "ui did not start"
            time.sleep(0.5)
        tree += tree[0].children(recursive=True)
        assert len(tree) >= 3  # mlflow ui and its uvicorn: the grandchild must stop too
        haco_ui.send_signal(stop)
        assert haco_ui.wait(timeout=ui.STOP_SECONDS + 5) == 0
        assert not answers(health)
        assert [p.pid for p in tree if alive(p)] == []
    finally:  # a failed test leaves no server behind
        for process in tree:
            if alive(process):
                process.kill()
