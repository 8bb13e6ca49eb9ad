"""haco.ledger: the run schema and lifecycle, on a throwaway SQLite store; and the names
(tags, statuses) defined there once."""

import ast
from pathlib import Path

import pytest

from haco import ledger, tracking
from haco.config import config_hash, load_config
from haco.ledger import Status, StoppedBy, Tag


@pytest.fixture
def experiment(cfg, client):
    return tracking.experiment_id(client, cfg, "losses")


def test_trial_run_carries_tags_params_history_and_finals(cfg, client):
    experiment = tracking.experiment_id(client, cfg, "losses")
    parent = client.create_run(experiment, tags={"haco.study": "losses"}).info.run_id
    tags = ledger.trial_tags(cfg, "losses", "Table 3", "VCB loss (Ours)", parent)
    run_id = client.create_run(experiment, tags=tags).info.run_id
    tracking.log_params(client, run_id, cfg)
    history = [{"train/loss": 1.0 - 0.1 * e, "val/f1": 0.1 * e} for e in range(3)]
    tracking.log_history(client, run_id, history)
    finals = {f"test/X{i}/f1": i / 2000 for i in range(1500)}  # > one batch of 1000
    tracking.log_metrics(client, run_id, finals)
    client.set_terminated(run_id, "FINISHED")
    run = client.get_run(run_id)
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.data.tags["haco.config_hash"] == config_hash(cfg)
    assert run.data.tags["haco.row"] == "VCB loss (Ours)" and run.data.tags["haco.seed"] == "0"
    assert run.data.params["model.backbone"] == "test-resnet"
    assert [m.value for m in client.get_metric_history(run_id, "val/f1")] == [0.0, 0.1, 0.2]
    assert run.data.metrics["test/X1499/f1"] == pytest.approx(1499 / 2000)


def test_finished_run_finds_only_finished_runs_of_the_same_config_and_seed(cfg, client):
    experiment = tracking.experiment_id(client, cfg, "losses")
    assert ledger.finished_run(client, experiment, cfg) is None
    tags = ledger.trial_tags(cfg, "losses", "Table 3", "CE loss", None)
    crashed = client.create_run(experiment, tags=tags).info.run_id
    client.set_terminated(crashed, "FAILED")
    assert ledger.finished_run(client, experiment, cfg) is None
    done = client.create_run(experiment, tags=tags).info.run_id
    client.set_terminated(done, "FINISHED")
    assert ledger.finished_run(client, experiment, cfg) == done
    other_seed = load_config("config", ["profile=smoke", "seed=1",
                                        f"mlflow.tracking_uri={cfg.mlflow.tracking_uri}"])
    assert ledger.finished_run(client, experiment, other_seed) is None


def test_a_trial_run_goes_scheduled_running_finished(cfg, client, experiment):
    tags = ledger.trial_tags(cfg, "losses", "Table 3", "CE loss", None)
    run_id = ledger.schedule(client, experiment, "CE loss s0", tags)
    assert ledger.status(client, run_id) == Status.SCHEDULED
    assert ledger.start(client, run_id, node="n1") == 1
    assert ledger.start(client, run_id) == 2  # a retry counts
    assert ledger.status(client, run_id) == Status.RUNNING
    ledger.finish(client, run_id)
    run = client.get_run(run_id)
    assert run.info.status == Status.FINISHED and run.data.tags[Tag.ATTEMPTS] == "2"
    found = ledger.trials_by_key(client, experiment)
    assert {k: r.info.run_id for k, r in found.items()} == {f"{config_hash(cfg)}-s0": run_id}


def test_a_later_launch_schedules_the_run_an_earlier_one_left(cfg, client, experiment):
    tags = ledger.trial_tags(cfg, "losses", "Table 3", "CE loss", None)
    first = ledger.schedule(client, experiment, "CE loss s0", tags)
    ledger.kill(client, first, StoppedBy.USER)
    left = ledger.trials_by_key(client, experiment)[ledger.trial_key(client.get_run(first))]
    again = ledger.schedule(client, experiment, "CE loss s0", {**tags, Tag.PARENT: "p2"}, left)
    assert again == first and ledger.status(client, first) == Status.SCHEDULED
    assert client.get_run(first).data.tags[Tag.PARENT] == "p2"


def test_close_fails_with_the_error_or_kills_and_leaves_closed_runs_alone(client, experiment):
    failing, stopped, done = (ledger.create(client, experiment, n, {}) for n in "abc")
    ledger.finish(client, done)
    assert ledger.close(client, failing, error="RuntimeError: x" * 2000) == Status.FAILED
    assert ledger.close(client, stopped, stopped_by=StoppedBy.BUDGET) == Status.KILLED
    assert ledger.close(client, done, error="late") == Status.FINISHED
    assert len(client.get_run(failing).data.tags[Tag.ERROR]) == ledger.ERROR_LENGTH
    assert client.get_run(stopped).data.tags[Tag.STOPPED] == StoppedBy.BUDGET
    assert Tag.ERROR not in client.get_run(done).data.tags


def test_retire_stale_kills_open_runs_but_those_kept(client, experiment):
    kept, stale, done = (ledger.create(client, experiment, n, {}) for n in "abc")
    ledger.finish(client, done)
    assert ledger.retire_stale(client, experiment, keep={kept}) == 1
    assert [ledger.status(client, r) for r in (kept, stale, done)] == [
        Status.RUNNING, Status.KILLED, Status.FINISHED]


def test_a_fail_keeps_the_traceback_as_an_artifact(client, experiment):
    run_id = ledger.create(client, experiment, "x", {})
    ledger.fail(client, run_id, "ValueError: bad", "Traceback ...\nValueError: bad")
    assert [a.path for a in client.list_artifacts(run_id)] == ["error.txt"]


PACKAGE = Path(ledger.__file__).parent


def string_constants(path: Path) -> list[str]:
    """Every string literal in a module, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings]


def test_tag_names_and_status_words_are_written_only_in_the_ledger():
    """The issue-16 rule: grep finds each tag name and status word defined once."""
    names = {v for v in vars(Tag).values() if isinstance(v, str)}
    words = {v for v in vars(Status).values() if isinstance(v, str)}
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "ledger.py":
            continue
        hits = [s for s in string_constants(path)
                if s in names | words or any(f"`{n}`" in s or f"tags.{n}" in s for n in names)]
        if hits:
            found[str(path.relative_to(PACKAGE.parent))] = sorted(set(hits))
    assert found == {}


def test_a_trial_begins_in_a_run_of_its_own_unless_it_started_before(cfg, client, experiment):
    """The plan's SCHEDULED run is replaced when its trial starts (its start time is then
    the trial's); a started run (a retry, a resumed trial) goes on in place."""
    tags = ledger.trial_tags(cfg, "losses", "Table 3", "CE loss", "parent-id")
    placeholder = ledger.schedule(client, experiment, "CE loss s0", tags)
    begun = ledger.begin(client, client.get_run(placeholder))
    assert begun != placeholder
    assert client.get_run(placeholder).info.lifecycle_stage == "deleted"
    run = client.get_run(begun)
    assert run.info.run_name == "CE loss s0" and run.data.tags[Tag.PARENT] == "parent-id"
    assert run.data.tags[Tag.CONFIG_HASH] == tags[Tag.CONFIG_HASH]
    ledger.start(client, begun)
    assert ledger.begin(client, client.get_run(begun)) == begun  # a retry goes on
    assert ledger.begin(client, client.get_run(placeholder)) == begun  # a stale job too
    assert [r.info.run_id for r in ledger.trials_by_key(client, experiment).values()] == [begun]
