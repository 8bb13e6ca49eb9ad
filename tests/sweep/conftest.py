import pytest

from haco.config import load_config


@pytest.fixture(scope="session")
def sweep_data(tmp_path_factory):
    """A data root for the smoke twins the studies generate (once per session)."""
    return tmp_path_factory.mktemp("sweep-data")


@pytest.fixture
def study(ray_session, sweep_data, tmp_path):
    """A function composing a study's `sweep` config on a throwaway MLflow store and
    storage path; returns (cfg, overrides), ready for haco.sweep.launch."""
    def compose(name, *overrides, store=tmp_path):
        args = [f"study={name}", "profile=smoke", f"data.root={sweep_data}",
                f"mlflow.tracking_uri=sqlite:///{store}/mlflow.db",
                f"mlflow.artifact_root={store}/artifacts",
                f"sweep.storage_path={store}/runs", *overrides]
        return load_config("sweep", args), args
    return compose


class MlflowServer:
    """A real `mlflow server` on a free localhost port (SQLite backend, served artifacts)
    that a test can stop and start again on the same port and store."""

    def __init__(self, root):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.root, self.url, self.process = root, f"http://127.0.0.1:{self.port}", None

    def start(self, timeout: float = 90) -> None:
        import subprocess
        import sys
        import time
        import urllib.request

        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port",
             str(self.port), "--backend-store-uri", f"sqlite:///{self.root}/server.db",
             "--artifacts-destination", str(self.root / "server-artifacts"), "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/health", timeout=2)
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mlflow server did not start") from None
                time.sleep(0.5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def mlflow_server(tmp_path):
    """The URL of a running MlflowServer."""
    server = MlflowServer(tmp_path)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def restartable_mlflow_server(tmp_path):
    """A running MlflowServer the test may stop and start."""
    server = MlflowServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
