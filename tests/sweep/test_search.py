"""haco.sweep.search: the `hpo` study (Optuna TPE + ASHA), its MLflow record, resume, the
best config that `haco train --config-file` runs, and config errors before any trial."""

import json
from types import SimpleNamespace

import pytest

from haco import tracking
from haco.config import ConfigError, config_hash, load_config
from haco.sweep import launch
from haco.sweep.search import OBJECTIVE, SearchPlan, record_outcomes
from haco.sweep.space import dimension

from .test_launch import runs_of


def test_a_search_runs_records_its_trials_and_writes_a_best_config(study, capsys):
    cfg, args = study("hpo", "study.search.samples=4")
    assert launch(cfg, args) == 0
    out = capsys.readouterr().out
    children, parents = runs_of(cfg)
    assert len(children) == 4 and len(parents) == 1
    trials = sorted(children, key=lambda r: int(r.data.tags["haco.hpo.trial"]))
    assert [r.info.run_name for r in trials] == [f"trial {n:03d} s0" for n in (1, 2, 3, 4)]
    outcomes = [r.data.tags["haco.hpo.outcome"] for r in trials]
    assert outcomes[0] == "completed"  # ASHA never stops the first trial at a rung
    for run, outcome in zip(trials, outcomes):
        assert outcome in ("completed", "pruned")
        assert OBJECTIVE in run.data.metrics
        params = json.loads(run.data.tags["haco.hpo.params"])
        assert set(params) == {e.key for e in cfg.study.search.space}
        assert float(run.data.params["train.lr"]) == params["train.lr"]  # sample = config
        if outcome == "completed":
            assert run.info.status == "FINISHED" and "test/MOW/f1" in run.data.metrics
        else:  # stopped at ASHA's rung (epoch 1 of 2): no test, KILLED by the scheduler
            assert run.info.status == "KILLED" and run.data.tags["haco.stopped"] == "scheduler"
            assert run.data.metrics["hpo/pruned_at_epoch"] == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["sweep/trials_pruned"] == outcomes.count("pruned")
    best = max((r for r in trials if r.data.tags["haco.hpo.outcome"] == "completed"),
               key=lambda r: r.data.metrics[OBJECTIVE])
    assert parent.data.tags["haco.hpo.best_run"] == best.info.run_id
    history = tracking.client(cfg).get_metric_history(parent.info.run_id, "hpo/best_objective")
    assert history[-1].value == best.data.metrics[OBJECTIVE]  # the progress curve ends there
    path = out.split("best config: ")[1].split()[0]
    assert f"best: {best.info.run_name}" in out
    rerun = load_config("train", [], path)  # what `haco train --config-file <path>` runs
    assert config_hash(rerun) == best.data.tags["haco.config_hash"]
    assert rerun.train.out_dir is None and rerun.train.resume is False

    # The same search with more samples runs only the new ones, numbered on from 5;
    # with as many as already ended, it launches nothing.
    cfg, args = study("hpo", "study.search.samples=5")
    assert launch(cfg, args) == 0
    children, parents = runs_of(cfg)
    assert len(children) == 5 and len(parents) == 2
    assert "005" in {r.data.tags["haco.hpo.trial"] for r in children}
    assert launch(cfg, args) == 0
    assert "all 5 samples ended; nothing to launch" in capsys.readouterr().out
    assert len(runs_of(cfg)[0]) == 5


def test_a_trial_a_killed_launch_left_is_continued_not_sampled_anew(study):
    """A SIGKILLed launch leaves its trial's run without an outcome (the next launch sets
    it KILLED): the same command proposes that trial again, in its own run and number,
    from its checkpoint, and TPE samples only what is left."""
    cfg, args = study("hpo", "study.search.samples=2")
    assert launch(cfg, args) == 0
    client = tracking.client(cfg)
    first = next(r for r in runs_of(cfg)[0] if r.data.tags["haco.hpo.trial"] == "001")
    client.delete_tag(first.info.run_id, "haco.hpo.outcome")
    client.set_terminated(first.info.run_id, status="KILLED")

    assert launch(cfg, args) == 0
    children, parents = runs_of(cfg)
    assert len(children) == 2 and len(parents) == 2  # no new trial run
    again = client.get_run(first.info.run_id)
    assert again.info.status == "FINISHED" and again.data.tags["haco.hpo.outcome"] == "completed"
    assert again.data.tags["haco.hpo.trial"] == "001"
    assert again.data.tags["haco.attempts"] == "2"
    assert again.data.tags["haco.resumed_at_epoch"] == "2"  # both epochs were checkpointed


@pytest.mark.parametrize("overrides, message", [
    (["study.search.space=[{key: train.lrr, dist: uniform, low: 0, high: 1}]"], "train.lrr"),
    (["study.search.space=[{key: train.lr, dist: normal, low: 0, high: 1}]"], "dist: one of"),
    (["study.search.space=[{key: train.lr, dist: loguniform, low: 0, high: 1}]"], "low > 0"),
    (["study.search.space=[{key: train.lr, dist: uniform, low: 1, high: 1}]"], "low < high"),
    (["study.search.space=[{key: loss.params.beta, dist: choice, values: []}]"], "values"),
    (["study.search.space=[{key: train.epochs, dist: choice, values: [0, 2]}]"],
     "train.epochs must be >= 1"),
    (["study.search.objective=test/MOW/f1"], "val/\\* metric"),
    (["seeds=2"], "one seed per sample"),
    (["sweep.rows=[x]"], "drop sweep.rows"),
    (["budget.usd=-1"], "budget.usd=-1"),
])
def test_config_errors_stop_a_search_before_any_trial(study, tmp_path, overrides, message):
    cfg, args = study("hpo", *overrides)
    with pytest.raises(ConfigError, match=message):
        launch(cfg, args)
    assert runs_of(cfg) == ([], [])
    assert not (tmp_path / "runs" / "ray").exists()


def test_a_search_is_identified_by_its_space_and_base_config(study):
    plan = SearchPlan(*study("hpo"))
    assert SearchPlan(*study("hpo", "study.search.samples=40")).id == plan.id
    assert SearchPlan(*study("hpo", "study.search.seed=1")).id != plan.id
    assert SearchPlan(*study("hpo", "train.epochs=3")).id != plan.id
    narrower = "study.search.space=[{key: train.lr, dist: loguniform, low: 1e-4, high: 1e-3}]"
    assert SearchPlan(*study("hpo", narrower)).id != plan.id


def test_dimensions_become_optuna_distributions():
    lr = dimension({"key": "train.lr", "dist": "loguniform", "low": 1e-5, "high": 1e-3})
    assert lr.optuna().log and lr.ends() == (1e-5, 1e-3)
    beta = dimension({"key": "b", "dist": "choice", "values": [0.9, 0.99]})
    assert beta.optuna().choices == (0.9, 0.99) and beta.ends() == (0.9, 0.99)


def test_outcomes_name_pruned_and_failed_trials(study):
    """What the driver records after Tune: a trial that ended early without error was
    pruned (closed KILLED if it could not close itself); an error is a failure."""
    cfg, args = study("hpo")
    plan = SearchPlan(cfg, args)
    client = tracking.client(cfg)
    experiment = tracking.experiment_id(client, cfg, "hpo")
    runs = {name: client.create_run(experiment).info.run_id for name in ("done", "cut", "bad")}
    client.set_terminated(runs["done"], status="FINISHED")
    client.update_run(runs["cut"], status="RUNNING")

    def result(name, epoch, error=None):
        return SimpleNamespace(config={"job": SimpleNamespace(run_id=runs[name])},
                               metrics={"epoch": epoch, "val/f1": 0.5}, error=error)

    outcomes = record_outcomes(client, plan, [result("done", 2), result("cut", 1),
                                              result("bad", 1, RuntimeError("x"))])
    assert outcomes == {runs["done"]: "completed", runs["cut"]: "pruned",
                        runs["bad"]: "failed"}
    cut = client.get_run(runs["cut"])
    assert cut.info.status == "KILLED" and cut.data.tags["haco.stopped"] == "scheduler"
    assert cut.data.metrics == {"hpo/pruned_at_epoch": 1.0, OBJECTIVE: 0.5}
