"""haco/run_reader.py: what it reads is what MLflow's search gives for those values, from
the store's tables and through the client's pages alike."""

import math

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Metric, Param, RunTag

from haco import ledger, tracking
from haco import run_reader as store
from haco.ledger import Status, Tag
from haco.run_reader import Columns

COLUMNS = Columns(metric_prefixes=("test/", "cost/"), params=("fidelity", "data.seed"))


@pytest.fixture(scope="module")
def uri(tmp_path_factory):
    """A store with trials (one with a NaN metric, one without the params), a baseline,
    a FAILED trial, a deleted trial and another experiment's run."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('store')}/mlflow.db"
    client = tracking.open_client(uri)
    losses = ledger.experiment(client, "losses")
    other = ledger.experiment(client, "sampling")

    def run(experiment, tags, metrics, params=(), status=Status.FINISHED, start=0):
        made = client.create_run(experiment, start_time=1_000 + start, tags=tags).info.run_id
        client.log_batch(made, metrics=[Metric(k, v, 0, step) for k, v, step in metrics],
                         params=[Param(k, v) for k, v in params],
                         tags=[RunTag("mlflow.runName", f"run {start}")])
        client.set_terminated(made, status, end_time=9_000 + start)
        return made

    for seed in range(3):
        run(losses, {Tag.ROW: "CE loss", Tag.SEED: str(seed)},
            [("test/MOW/f1", 0.5 + seed / 10, 0), ("test/MOW/f1", 0.9, 1),  # latest: step 1
             ("val/f1", 0.4, 0), ("cost/fps", 30.0, 0)],
            [("fidelity", "paper"), ("data.seed", str(seed)), ("lr", "1e-5")], start=seed)
    run(losses, {Tag.ROW: "VCB loss (Ours)", Tag.SEED: "0"},
        [("test/MOW/f1", math.nan, 0), ("test/MOW/precision", 0.25, 0)], start=3)
    run(losses, {Tag.ROW: "L1 loss", Tag.SEED: "0"}, [("test/MOW/f1", 0.1, 0)],
        status=Status.FAILED, start=4)
    client.delete_run(run(losses, {Tag.ROW: "L2 loss", Tag.SEED: "0"},
                          [("test/MOW/f1", 0.2, 0)], start=5))
    run(losses, {Tag.KIND: "baseline", Tag.BASELINE: "All contact"},
        [("test/MOW/f1", 0.3, 0)], start=6)
    run(other, {Tag.ROW: "w/o sampling", Tag.SEED: "0"}, [("test/MOW/f1", 0.7, 0)], start=7)
    return uri


def reference(uri, where, columns=COLUMNS) -> pd.DataFrame:
    """mlflow.search_runs cut to the columns the reader reads."""
    mlflow.set_tracking_uri(uri)
    found = mlflow.search_runs(experiment_names=["haco/losses"], filter_string=where)
    keep = [c for c in found.columns
            if c in store.RUN_FIELDS
            or "." in c and columns.wants(c.split(".", 1)[0], c.split(".", 1)[1])]
    return found[keep]


def same(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert sorted(ours.columns) == sorted(theirs.columns)
    assert list(ours["run_id"]) == list(theirs["run_id"])  # newest first, both
    pd.testing.assert_frame_equal(ours[theirs.columns].reset_index(drop=True),
                                  theirs.reset_index(drop=True), check_dtype=False)


def experiment_of(uri):
    return tracking.open_client(uri).get_experiment_by_name("haco/losses").experiment_id


@pytest.mark.parametrize("where", [
    ledger.status_is(Status.FINISHED),
    ledger.both(ledger.TRIALS, ledger.status_is(Status.FINISHED)),
    ledger.both(ledger.BASELINES, ledger.status_is(Status.FINISHED)),
    ledger.both(ledger.tag_is(Tag.ROW, "CE loss"), ledger.tag_is(Tag.SEED, "1")),
    ledger.Where(),
], ids=["finished", "trials", "baselines", "one cell", "everything"])
def test_the_tables_reader_matches_search_runs(uri, where):
    same(store.read_runs(uri, experiment_of(uri), where, COLUMNS), reference(uri, where))


def test_paging_through_a_server_matches_search_runs(uri, monkeypatch):
    monkeypatch.setattr(store, "PAGE", 2)  # several pages of a few runs
    where = ledger.status_is(Status.FINISHED)
    same(store._frame(store._from_client(uri, experiment_of(uri), where, COLUMNS)),
         reference(uri, where))


def test_only_the_wanted_columns_are_read(uri):
    found = store.read_runs(uri, experiment_of(uri), ledger.TRIALS, COLUMNS)
    assert "metrics.val/f1" not in found and "params.lr" not in found
    assert found["metrics.test/MOW/f1"].isna().sum() == 1  # the NaN stays NaN
    assert set(found["metrics.test/MOW/f1"].dropna()) == {0.9, 0.1}  # latest step wins
    every_tag = store.read_runs(uri, experiment_of(uri), ledger.TRIALS,
                                Columns(metric_prefixes=(), params=None, tags=(Tag.ROW,)))
    assert [c for c in every_tag if c.startswith("tags.")] == ["tags.haco.row"]
    assert "params.lr" in every_tag


def test_an_experiment_without_matching_runs_is_an_empty_frame(uri):
    assert store.read_runs(uri, experiment_of(uri), ledger.tag_is(Tag.ROW, "nope"),
                           COLUMNS).empty


def test_brief_runs_are_the_search_s_entities_with_fewer_metrics(uri):
    client = tracking.open_client(uri)
    where = ledger.both(ledger.TRIALS, ledger.status_is(Status.FINISHED))
    full = client.search_runs([experiment_of(uri)], filter_string=where)
    brief = store.brief_runs(uri, experiment_of(uri), where, ("test/",))
    assert [r.info.run_id for r in brief] == [r.info.run_id for r in full]
    for ours, theirs in zip(brief, full):
        for name in ("experiment_id", "status", "start_time", "end_time", "artifact_uri",
                     "run_name", "lifecycle_stage"):
            assert getattr(ours.info, name) == getattr(theirs.info, name), name
        assert ours.data.tags == theirs.data.tags
        wanted = {k: v for k, v in theirs.data.metrics.items() if k.startswith("test/")}
        assert ours.data.metrics.keys() == wanted.keys()
        assert all(v == wanted[k] or (math.isnan(v) and math.isnan(wanted[k]))
                   for k, v in ours.data.metrics.items())
        assert not ours.data.params
