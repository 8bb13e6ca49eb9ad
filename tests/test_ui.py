"""haco.ui: a light MLflow UI with a link per study to its runs."""

import socket
import subprocess
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
    started = []
    monkeypatch.setattr(ui.subprocess, "Popen",
                        lambda args, env: started.append(FakeServer(args, env)) or started[-1])
    monkeypatch.setattr(ui, "wait_until_up", lambda base, server: True)
    assert ui.ui_command(cfg) == 0
    args, env = started[0].args, started[0].env
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
