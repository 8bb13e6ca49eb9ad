"""Launches sharing one laptop store: two different studies at once into a new SQLite
store both finish with every run and metric; two launches of one study refuse cleanly."""

import subprocess
import sys
from pathlib import Path

import pytest

from haco import tracking
from haco.config import ConfigError, load_config

SWEEPS = Path(__file__).parents[2] / "sweeps"


def test_a_second_launch_of_a_study_is_refused_while_the_first_holds_its_lock(tmp_path):
    from haco.sweep.launch import launch, study_lock

    args = ["study=sampling", "profile=smoke", f"mlflow.tracking_uri=sqlite:///{tmp_path}/m.db",
            f"sweep.storage_path={tmp_path}/runs"]
    cfg = load_config("sweep", args)
    with study_lock(cfg), pytest.raises(ConfigError, match="is being launched already"):
        launch(cfg, args)


def test_the_first_open_of_a_new_store_creates_it_under_a_lock(tmp_path):
    uri = f"sqlite:///{tmp_path}/store/m.db"
    client = tracking.open_client(uri)
    assert (tmp_path / "store" / "m.db").is_file()
    assert (tmp_path / "store" / "m.db.lock").is_file()
    assert client.search_experiments()  # the Default experiment: tables are there


@pytest.mark.slow  # two whole studies in subprocesses
def test_two_studies_launched_at_once_into_a_new_store_both_finish(sweep_data, tmp_path):
    store = f"sqlite:///{tmp_path}/mlflow.db"
    common = ["profile=smoke", f"data.root={sweep_data}", f"mlflow.tracking_uri={store}",
              f"sweep.storage_path={tmp_path}/runs", "sweep.verbose=0"]
    launches = {
        "sampling": [],                                        # BCS off and on: 2 trials
        "init": ["sweep.rows=[No contact,Mean of MOW]"],       # 2 of its 8 rows
    }
    procs = {name: subprocess.Popen([sys.executable, str(SWEEPS / f"{name}.py"), *common,
                                     *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True)
             for name, extra in launches.items()}
    outputs = {name: proc.communicate(timeout=900)[0] for name, proc in procs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, outputs[name][-3000:]
    client = tracking.open_client(store)
    for name in launches:
        experiment = client.get_experiment_by_name(f"haco/{name}")
        trials = [r for r in client.search_runs([experiment.experiment_id])
                  if "haco.row" in r.data.tags]
        assert len(trials) == 2 and {r.info.status for r in trials} == {"FINISHED"}
        for run in trials:
            epochs = [m.step for m in client.get_metric_history(run.info.run_id, "val/f1")]
            assert epochs == [0, 1]
            assert "test/MOW/f1" in run.data.metrics and "cost/fps" in run.data.metrics
