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


@pytest.fixture
def mlflow_server(tmp_path):
    """A real `mlflow server` on a free localhost port (SQLite backend, served artifacts)."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
         "--artifacts-destination", str(tmp_path / "server-artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mlflow server did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
