"""A study against a real Ray head with token authentication (`ray start --head` on
loopback, as the cluster recipes start it): by address and with `auto` it finds the
token and runs; a driver without the token stops at once, saying what to do.

Marked `services` (a real Ray head, minutes); CI runs the tier.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.services
SWEEPS = Path(__file__).parents[2] / "sweeps"
RAY = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_env(home: Path) -> dict[str, str]:
    """The environment of a user whose home is `home`, with no Ray auth settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RAY_AUTH", "RAY_ADDRESS"))}
    return {**env, "HOME": str(home)}


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """(address, the home holding its token) of a token-authenticated Ray head."""
    home = tmp_path_factory.mktemp("ray-home")
    env = clean_env(home)
    subprocess.run([RAY, "get-auth-token", "--generate"], env=env, check=True,
                   capture_output=True, timeout=60)
    assert (home / ".ray" / "auth_token").is_file()
    port = free_port()
    started = subprocess.run(
        [RAY, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
         "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
        env={**env, "RAY_AUTH_MODE": "token"}, capture_output=True, text=True, timeout=180,
        check=False)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield f"127.0.0.1:{port}", home
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120,
                       check=False)


def study(address: str, env: dict, tmp_path: Path, timeout: float = 900):
    return subprocess.run(
        [sys.executable, str(SWEEPS / "sampling.py"), "profile=smoke",
         f"data.root={tmp_path}/data", f"mlflow.tracking_uri=sqlite:///{tmp_path}/m.db",
         f"sweep.storage_path={tmp_path}/runs", f"ray.address={address}"],
        env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_by_address_the_driver_finds_the_token_and_runs(head, tmp_path):
    address, home = head
    done = study(address, clean_env(home), tmp_path)  # RAY_AUTH_MODE unset, as a user has it
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert f"Ray cluster at {address} (token: {home}/.ray/auth_token)" in done.stdout
    assert done.stdout.count("FINISHED") >= 2  # BCS off and on


def test_with_auto_the_driver_finds_the_token_and_runs(head, tmp_path):
    _, home = head
    done = study("auto", clean_env(home), tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def test_a_driver_without_the_token_stops_with_what_to_do(head, tmp_path):
    address, _ = head
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    done = study(address, clean_env(stranger), tmp_path, timeout=300)
    assert done.returncode == 2, (done.stdout + done.stderr)[-3000:]
    assert "refused this driver (or is not there), which has no token" in done.stderr
    assert "~/.ray/auth_token" in done.stderr and "RAY_AUTH_MODE" in done.stderr
