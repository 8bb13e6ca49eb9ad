"""A tracking server that restarts mid-study: trials keep training, their writes wait
beside their checkpoints and arrive once, in order; every run ends FINISHED."""

import subprocess
import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

SCRIPT = Path(__file__).parents[2] / "sweeps" / "losses.py"
EPOCHS = 6


def wait_for_a_running_trial(url: str, timeout: float = 300) -> None:
    client, deadline = MlflowClient(url), time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.get_experiment_by_name("haco/losses")
        if found and client.search_runs([found.experiment_id], "attributes.status = 'RUNNING' "
                                        "and tags.`haco.row` != ''"):
            return
        time.sleep(0.5)
    raise AssertionError("no trial started")


def test_a_server_restart_mid_study_loses_and_doubles_nothing(restartable_mlflow_server,
                                                             sweep_data, tmp_path):
    server = restartable_mlflow_server
    launch = subprocess.Popen(
        [sys.executable, str(SCRIPT), "profile=smoke", f"data.root={sweep_data}",
         f"mlflow.tracking_uri={server.url}", f"sweep.storage_path={tmp_path}/runs",
         "sweep.rows=[CE loss,L1 loss]", f"train.epochs={EPOCHS}", "train.milestones=[3]",
         "mlflow.outage_seconds=300", "sweep.verbose=0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_a_running_trial(server.url)
    server.stop()
    time.sleep(20)  # the first trial trains (and the second may start) with no server
    server.start()
    out = launch.communicate(timeout=900)[0]
    assert launch.returncode == 0, out[-3000:]
    client = MlflowClient(server.url)
    experiment = client.get_experiment_by_name("haco/losses").experiment_id
    trials = [r for r in client.search_runs([experiment]) if "haco.row" in r.data.tags]
    assert sorted(r.data.tags["haco.row"] for r in trials) == ["CE loss", "L1 loss"]
    for run in trials:
        assert run.info.status == "FINISHED"
        for key in ("val/f1", "train/loss"):
            steps = [m.step for m in client.get_metric_history(run.info.run_id, key)]
            assert steps == list(range(EPOCHS)), (key, steps)  # each epoch exactly once
        assert "test/MOW/f1" in run.data.metrics and "sweep/trial_seconds" in run.data.metrics
    for journal in (tmp_path / "runs").rglob("tracking-outbox.log"):
        raise AssertionError(f"writes left unsent in {journal}")
