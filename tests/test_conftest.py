"""The test suite's own shortcuts must not change what they stand in for."""

import sqlite3
from contextlib import closing

from mlflow.tracking import MlflowClient


def test_an_outdated_store_keeps_its_runs_when_opened_in_the_test_process(outdated_store):
    """The template copy (conftest.migrated_store_template) replaces the creation of an
    empty database only: a store missing some of today's tables is migrated by MLflow
    itself, its runs kept (with MLflow 3.18 the copy used to overwrite them)."""
    database, run_id, _, missing = outdated_store
    assert missing  # the downgrade took tables away
    client = MlflowClient(f"sqlite:///{database}")
    run = client.get_run(run_id)
    assert run.data.metrics == {"kept": 1.0}
    assert client.get_experiment(run.info.experiment_id).name == "before the upgrade"
    with closing(sqlite3.connect(database)) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert missing <= tables  # migrated back to today's schema
