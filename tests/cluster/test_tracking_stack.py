"""The cluster's tracking stack as cluster/mlflow/ deploys it, for real: PostgreSQL from
Debian's packages and `mlflow server` on it with the basic-auth app of
cluster/mlflow/basic_auth.ini, both on loopback. A smoke study logs to it with
credentials from the environment; a client without them is refused; no secret reaches a
param, a tag, the console or a file of the launch.

Marked `services`; skipped where PostgreSQL's server binaries are not installed
(`apt-get install postgresql`; .ci/run does it).
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
pytestmark = [pytest.mark.services,
              pytest.mark.skipif(not PG_BINS or shutil.which("runuser") is None,
                                 reason="PostgreSQL's server (apt-get install postgresql) "
                                        "or runuser is missing")]

DB_PASSWORD = "pg-" + base64.b32encode(os.urandom(10)).decode().lower()
ADMIN_PASSWORD = "admin-" + base64.b32encode(os.urandom(10)).decode().lower()
USER_PASSWORD = "haco-" + base64.b32encode(os.urandom(10)).decode().lower()
SECRETS = (DB_PASSWORD, ADMIN_PASSWORD, USER_PASSWORD)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_postgres(*command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True,
                          capture_output=True, text=True, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server on a loopback port with database `mlflow` owned by `mlflow`
    (password auth); yields its URI. Its files live where the postgres user can reach."""
    bin_dir = PG_BINS[-1].parent
    home = Path(tempfile.mkdtemp(prefix="haco-pg-"))
    home.chmod(0o755)
    shutil.chown(home, "postgres", "postgres")  # the server writes its log here
    data, sockets = home / "data", home / "sockets"
    for path in (data, sockets):
        path.mkdir()
        shutil.chown(path, "postgres", "postgres")
    secret = home / "pw"
    secret.write_text(DB_PASSWORD)
    shutil.chown(secret, "postgres", "postgres")
    secret.chmod(0o600)
    port = free_port()
    as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-U", "mlflow",
                "--auth=scram-sha-256", f"--pwfile={secret}")
    secret.unlink()
    as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(home / "log"),
                "-o", f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1", "start")
    try:
        as_postgres(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                    "-U", "mlflow", "mlflow", env={**os.environ, "PGPASSWORD": DB_PASSWORD})
        yield f"postgresql://mlflow:{DB_PASSWORD}@127.0.0.1:{port}/mlflow"
    finally:
        as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def auth_server(postgres, tmp_path_factory):
    """`mlflow server --app-name basic-auth` on the database, configured as the recipe
    configures it (its basic_auth.ini; only the users' database moves to a temp file).
    Every secret comes from the environment, as docker-compose.yaml passes them."""
    root = tmp_path_factory.mktemp("auth-server")
    recipe = configparser.ConfigParser()
    recipe.read(ROOT / "cluster" / "mlflow" / "basic_auth.ini")
    recipe["mlflow"]["database_uri"] = f"sqlite:///{root}/basic_auth.db"
    with open(root / "basic_auth.ini", "w") as ini:
        recipe.write(ini)
    port, log = free_port(), open(root / "server.log", "w")  # noqa: SIM115 - the server's
    env = {**os.environ, "MLFLOW_AUTH_CONFIG_PATH": str(root / "basic_auth.ini"),
           "MLFLOW_FLASK_SERVER_SECRET_KEY": base64.b32encode(os.urandom(20)).decode(),
           "MLFLOW_AUTH_ADMIN_USERNAME": "admin", "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
           "MLFLOW_BACKEND_STORE_URI": postgres}
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--app-name", "basic-auth", "--serve-artifacts", "--artifacts-destination",
         str(root / "artifacts"), "--workers", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mlflow server did not start: "
                                       + (root / "server.log").read_text()[-2000:]) from None
                time.sleep(0.5)
        yield url, root
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def call(url: str, path: str, body: dict | None = None, user: tuple[str, str] | None = None):
    """(status, JSON answer) of a REST call, with basic auth when `user` is given."""
    headers = {"Content-Type": "application/json"}
    if user:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(user).encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}{path}", data, headers,
                                     method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, {}


def test_a_client_without_credentials_is_refused(auth_server):
    url, _ = auth_server
    assert call(url, "/api/2.0/mlflow/experiments/search", {"max_results": 1})[0] == 401
    status, _ = call(url, "/api/2.0/mlflow/experiments/search", {"max_results": 1},
                     ("admin", "wrong"))
    assert status == 401
    assert call(url, "/api/2.0/mlflow/experiments/search", {"max_results": 1},
                ("admin", ADMIN_PASSWORD))[0] == 200


def test_a_study_logs_with_credentials_from_the_environment_and_leaks_none(auth_server,
                                                                          tmp_path):
    url, _ = auth_server
    status, _ = call(url, "/api/2.0/mlflow/users/create",
                     {"username": "haco", "password": USER_PASSWORD}, ("admin", ADMIN_PASSWORD))
    assert status == 200
    env = {**os.environ, "MLFLOW_TRACKING_USERNAME": "haco",
           "MLFLOW_TRACKING_PASSWORD": USER_PASSWORD}
    done = subprocess.run(
        [sys.executable, str(ROOT / "sweeps" / "losses.py"), "profile=smoke",
         f"data.root={tmp_path}/data", f"mlflow.tracking_uri={url}",
         f"sweep.storage_path={tmp_path}/runs", "sweep.rows=[CE loss]"],
        env=env, capture_output=True, text=True, timeout=900, check=False)
    console = done.stdout + done.stderr
    assert done.returncode == 0, console[-3000:]
    from mlflow.tracking import MlflowClient

    os.environ.update(MLFLOW_TRACKING_USERNAME="haco", MLFLOW_TRACKING_PASSWORD=USER_PASSWORD)
    try:
        client = MlflowClient(url)
        experiment = client.get_experiment_by_name("haco/losses").experiment_id
        runs = client.search_runs([experiment])
    finally:
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            os.environ.pop(name)
    trials = [r for r in runs if r.data.tags.get("haco.row") == "CE loss"]
    assert len(trials) == 1 and trials[0].info.status == "FINISHED"
    assert "test/MOW/f1" in trials[0].data.metrics
    logged = json.dumps([[r.data.params, r.data.tags] for r in runs])
    written = [p.read_text(errors="ignore") for p in (tmp_path / "runs").rglob("*")
               if p.is_file() and p.suffix in {".json", ".yaml", ".txt", ".log", ".csv", ""}
               and p.stat().st_size < 5_000_000]
    for secret in SECRETS:
        assert secret not in logged and secret not in console
        assert not any(secret in text for text in written)
