"""A store written by older code (tests/fixtures/README.md) still renders and resumes: the
MLflow schema and the config keys stay compatible across reorganizations of the code."""

import sqlite3
import tarfile
from pathlib import Path

import pytest

from haco.config import load_config
from haco.report.cli import study_frames, tables_main
from haco.report.runs import load_search

FIXTURE = Path(__file__).parents[1] / "fixtures" / "store-6b796b9.tar.gz"
WRITTEN_AT = "/tmp/compat/store"  # where the old code wrote it


@pytest.fixture
def old_store(tmp_path) -> Path:
    """The fixture store unpacked under tmp_path/store, its artifact locations moved along."""
    with tarfile.open(FIXTURE) as archive:
        archive.extractall(tmp_path, filter="data")
    store = tmp_path / "store"
    with sqlite3.connect(store / "mlflow.db") as db:
        for table, column in (("experiments", "artifact_location"), ("runs", "artifact_uri")):
            db.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?)",
                       (WRITTEN_AT, str(store)))
    return store


def uri(store: Path) -> str:
    return f"sqlite:///{store}/mlflow.db"


def test_an_old_store_renders_its_table_with_the_floor(old_store, tmp_path, capsys):
    runs, baselines, profile, data = study_frames(uri(old_store), "losses")
    assert (profile, data) == ("smoke", "synthetic")
    assert list(runs["tags.haco.row"]) == ["CE loss"]  # VCB was stopped: not FINISHED
    assert set(baselines["tags.haco.baseline"]) == {"All contact", "Vertex prior",
                                                    "Dataset prior"}
    assert tables_main(["--tracking-uri", uri(old_store), "--study", "losses",
                        "--out", str(tmp_path / "out")]) == 0
    table = capsys.readouterr().out
    ce = next(line for line in table.splitlines() if line.startswith("| CE loss"))
    assert any(ch.isdigit() for ch in ce.split("|")[2])
    assert "Vertex prior" in table
    search = load_search(uri(old_store))
    assert list(search["trial"]) == [1, 2]
    assert set(search["tags.haco.hpo.outcome"]) == {"completed"}


def test_an_old_store_resumes_a_stopped_trial_into_its_own_run(study, old_store):
    from haco.sweep import launch
    from haco.tracking import client

    rows = "sweep.rows=[CE loss,'VCB loss (Ours)']"
    cfg, args = study("losses", rows, "seeds=1", store=old_store)
    mlflow = client(cfg)
    experiment = mlflow.get_experiment_by_name("haco/losses").experiment_id

    def trial_runs():
        found = mlflow.search_runs([experiment], filter_string="tags.`haco.row` != ''")
        return {r.data.tags["haco.row"]: r for r in found}, len(found)

    before, count = trial_runs()
    assert launch(cfg, args) == 0
    after, count_after = trial_runs()
    assert (set(after), count_after) == (set(before), count)  # the stopped run continued
    for row, run in after.items():
        assert run.info.run_id == before[row].info.run_id
        assert run.info.status == "FINISHED"
    assert after["CE loss"].info.end_time == before["CE loss"].info.end_time  # not re-run


def test_an_old_search_goes_on_from_its_trials(study, old_store):
    from haco.sweep import launch

    cfg, args = study("hpo", "study.search.samples=3", store=old_store)
    assert launch(cfg, args) == 0
    search = load_search(uri(old_store))
    assert list(search["trial"]) == [1, 2, 3]  # the two old trials kept, one new
    assert search["tags.haco.hpo.search"].nunique() == 1


def test_the_fixture_config_still_composes():
    """The keys the old store's runs were made with still exist (a renamed key would make
    its hash, and so its runs, unreachable)."""
    assert load_config("sweep", ["study=losses", "profile=smoke"]).study.name == "losses"
