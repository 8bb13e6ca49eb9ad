"""haco.sweep.launch on a shared Ray session: studies at smoke size, the MLflow schema,
idempotence, retries, config errors before any trial, a real `mlflow server`."""

import json
import urllib.request

import pytest

from haco import ledger, tracking
from haco.config import ConfigError
from haco.sweep import launch

ROWS = {  # two cells of each study, small backbones only
    "losses": "[CE loss,'VCB loss (Ours)']",
    "backbones": "[ResNet-34,ResNet-18]",
    "datasets": "[HS+HH,HO]",
    "sampling": "null",
    "init": "[No contact,Mean of MOW]",
}


def runs_of(cfg, kind=None):
    """(trial runs, launch runs) of the study; kind="baseline": its baseline runs."""
    client = tracking.client(cfg)
    experiment = client.get_experiment_by_name(f"haco/{cfg.study.name}")
    if experiment is None:
        return [], []
    runs = client.search_runs([experiment.experiment_id])
    if kind == "baseline":
        return [r for r in runs if r.data.tags.get("haco.kind") == "baseline"]
    runs = [r for r in runs if r.data.tags.get("haco.kind") != "baseline"]
    children = [r for r in runs if "haco.row" in r.data.tags]
    return children, [r for r in runs if r not in children]


def next_estimates(cfg, args):
    """[(spec, its estimate)] of every trial of the study, as a next plan makes them."""
    from haco.sweep.estimate import Estimator, cache_dir_of
    from haco.sweep.launch import study_of
    from haco.sweep.resources import nodes, per_trial
    from haco.sweep.study import storage_dir

    study, client = study_of(cfg, args), tracking.client(cfg)
    study.look_up(client, client.get_experiment_by_name(f"haco/{cfg.study.name}").experiment_id)
    estimator = Estimator(cfg, per_trial(cfg, nodes()), study.specs, study.past_runs(),
                          cache_dir_of(storage_dir(cfg, "")))
    return [(spec, estimator.of(spec)) for spec in study.specs]


@pytest.mark.parametrize("name", sorted(ROWS))
def test_a_study_runs_logs_the_schema_and_a_rerun_launches_nothing(study, name, capsys):
    cfg, args = study(name, f"sweep.rows={ROWS[name]}")
    assert launch(cfg, args) == 0
    children, parents = runs_of(cfg)
    assert len(children) == 2 and len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["sweep/trials_finished"] == 2
    client = tracking.client(cfg)
    for run in children:
        tags, metrics = run.data.tags, run.data.metrics
        assert run.info.status == "FINISHED"
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        assert tags["haco.study"] == name and tags["haco.table"] == str(cfg.study.table)
        assert tags["haco.profile"] == "smoke" and tags["haco.data"] == "synthetic"
        assert {"haco.row", "haco.seed", "haco.config_hash", "git.sha"} <= set(tags)
        assert run.data.params["profile"] == "smoke" and "model.backbone" in run.data.params
        tests = json.loads(run.data.params["data.test"].replace("'", '"'))
        for test_set in tests:
            assert 0 <= metrics[f"test/{test_set}/f1"] <= 1
            # a region no counted sample touches has no F1 (undefined), only its count
            assert (f"test/{test_set}/palm/f1" in metrics
                    or metrics[f"test/{test_set}/palm/count"] == 0)
            assert f"test/{test_set}/regions_evaluated" in metrics
        assert {"cost/params_m", "cost/gflops", "cost/fps", "cost/train_memory_mb",
                "cost/model_memory_mb", "cost/train_seconds", "cost/device_hours",
                "cost/usd"} <= set(metrics)
        epochs = [m.step for m in client.get_metric_history(run.info.run_id, "val/f1")]
        assert epochs == [0, 1]  # per epoch, each once
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"config.yaml", "metrics.json", "history.json", "test_heatmaps.npz",
                "train_contact_means.npz", f"heatmap_{tests[0]}.png"} <= artifacts
        ratios = [v for k, v in metrics.items() if k.startswith("data/")]
        assert ratios and min(ratios) > 1  # Table 1: every training set's imbalance
        assert tags["haco.checkpoint"].endswith("last.pt")
        assert metrics["sweep/trial_seconds"] > 0
    for spec, made in next_estimates(cfg, args):  # the next plan's: from these runs
        run = next(r for r in children if ledger.trial_key(r) == spec.key)
        assert made.family == run.data.tags["haco.cost_family"]
        assert "finished run(s) of its family" in made.source
        assert float(run.data.tags["haco.estimate_seconds"]) > 0
    keys = {r.data.tags["haco.data_key"] for r in children}  # datasets: one per mix
    baselines = runs_of(cfg, "baseline")
    assert {r.info.status for r in baselines} == {"FINISHED"}
    for key in keys:  # the Dataset prior only where the mix trains on the test set
        names = {r.data.tags["haco.baseline"] for r in baselines
                 if r.data.tags["haco.data_key"] == key}
        assert {"All contact", "Vertex prior"} <= names <= {"All contact", "Vertex prior",
                                                            "Dataset prior"}
    assert {r.data.tags["haco.data_key"] for r in baselines} == keys
    out = capsys.readouterr().out
    assert f"baselines (the input-blind floor): {len(baselines)} computed, 0 reused" in out
    assert "input-blind floor" in out and "rows clear the floor" in out
    assert launch(cfg, args) == 0  # everything FINISHED: nothing launched, no new run
    out = capsys.readouterr().out
    assert "nothing to launch" in out and f"0 computed, {len(baselines)} reused" in out
    assert [len(r) for r in runs_of(cfg)] == [2, 1] and len(runs_of(cfg, "baseline")) == \
        len(baselines)


def test_the_summary_shows_the_floor_and_the_rows_that_do_not_clear_it(capsys):
    from types import SimpleNamespace

    from haco.baselines import DataBaselines
    from haco.config import data_key, load_config
    from haco.sweep.grid import print_results
    from haco.sweep.study import expand

    args = ["study=losses", "profile=smoke", "sweep.rows=[CE loss,'VCB loss (Ours)']", "seeds=2"]
    cfg = load_config("sweep", args)
    specs = expand(cfg, args)
    f1 = {"CE loss": [0.30, 0.45], "VCB loss (Ours)": [0.50, 0.52]}  # CE: 0.375 ± 0.106
    runs = {s.key: SimpleNamespace(info=SimpleNamespace(status="FINISHED"), data=SimpleNamespace(
        metrics={"test/MOW/f1": f1[s.row][s.seed], "test/HIC/f1": 0.0})) for s in specs}
    key = data_key(specs[0].config)
    floors = {key: DataBaselines(key, "all", {
        "All contact": {"test/MOW/f1": 0.33, "test/HIC/f1": 0.1},
        "Vertex prior": {"test/MOW/f1": 0.41, "test/HIC/f1": 0.2}})}
    print_results(cfg, specs, runs, floors)
    out = capsys.readouterr().out
    assert "input-blind floor: MOW 0.410 (Vertex prior)" in out
    assert "HIC" not in out  # the study's metric is test/MOW/f1
    assert "1 of 2 rows clear the floor; not clearing it: CE loss on MOW (0.375 ± 0.106 vs " \
           "0.410)" in out


def test_adding_seeds_launches_only_the_missing_trials(study):
    cfg, args = study("sampling", "sweep.rows=[w/o sampling]")
    assert launch(cfg, args) == 0
    first = runs_of(cfg)[0][0].info.run_id
    cfg, args = study("sampling", "sweep.rows=[w/o sampling]", "seeds=2")
    assert launch(cfg, args) == 0
    children, parents = runs_of(cfg)
    assert sorted(r.data.tags["haco.seed"] for r in children) == ["0", "1"]
    assert len(parents) == 2
    counts = sorted((p.data.metrics["sweep/trials_planned"], p.data.metrics["sweep/trials_skipped"])
                    for p in parents)
    assert counts == [(1, 0), (1, 1)]  # the second launch ran seed 1 only
    assert first in {r.info.run_id for r in children}


def test_a_failing_trial_is_retried_then_failed_while_the_others_finish(study):
    cfg, args = study("losses", "sweep.rows=[CE loss,L1 loss]", "sweep.max_failures=1")
    cfg.study.cells[1].overrides.append("train.max_grad_norm=1e-12")  # L1: diverges at once
    assert launch(cfg, args) == 1
    children, parents = runs_of(cfg)
    by_row = {r.data.tags["haco.row"]: r for r in children}
    assert by_row["CE loss"].info.status == "FINISHED"
    failed = by_row["L1 loss"]
    assert failed.info.status == "FAILED"
    assert failed.data.tags["haco.attempts"] == "2"  # the first try and one retry
    assert "DivergenceError" in failed.data.tags["haco.error"]
    client = tracking.client(cfg)
    assert "error.txt" in {a.path for a in client.list_artifacts(failed.info.run_id)}
    assert parents[0].info.status == "FAILED"
    assert parents[0].data.metrics["sweep/trials_failed"] == 1


@pytest.mark.parametrize("overrides, message", [
    (["resources.gpus_per_trial=1"], "the cluster has none"),
    (["sweep.rows=[CE]"], "not in study losses"),
    (["train.epochs=0"], "train.epochs must be >= 1"),
    (["data.source=real"], "no train split for ObMan"),  # real data not imported here
])
def test_config_errors_stop_a_launch_before_any_trial(study, tmp_path, overrides, message):
    cfg, args = study("losses", "sweep.rows=[CE loss]", *overrides)
    with pytest.raises(ConfigError, match=message):
        launch(cfg, args)
    assert runs_of(cfg) == ([], [])
    assert not (tmp_path / "runs" / "ray").exists()


def test_a_stale_launch_is_resumed_into_the_same_runs(study):
    """What a driver killed with SIGKILL leaves: a RUNNING parent and RUNNING children.
    The next launch continues those children and retires the old parent."""
    from haco.sweep import runs as study_runs
    from haco.sweep.study import expand

    cfg, args = study("sampling")
    client = tracking.client(cfg)
    experiment = tracking.experiment_id(client, cfg, "sampling")
    specs = expand(cfg, args)
    old_parent = study_runs.start_parent(client, experiment, cfg, 2, 0, 0.0)
    left = study_runs.schedule_trials(client, experiment, cfg, specs, old_parent, {}, {})
    for run_id in left.values():  # their trials had started (a SIGKILL came mid-trial)
        ledger.start(client, run_id)
    assert launch(cfg, args) == 0
    children, parents = runs_of(cfg)
    assert {r.info.run_id for r in children} == set(left.values())
    assert all(r.info.status == "FINISHED" for r in children)
    statuses = {p.info.run_id: p.info.status for p in parents}
    assert statuses.pop(old_parent) == "KILLED"
    assert list(statuses.values()) == ["FINISHED"]
    # A driver killed after its last trial leaves only its parent open: a re-run that has
    # nothing to launch still closes it.
    orphan = study_runs.start_parent(client, experiment, cfg, 0, 2, 0.0)
    assert launch(cfg, args) == 0
    assert client.get_run(orphan).info.status == "KILLED"


def test_runs_reach_a_real_mlflow_server_over_rest(study, mlflow_server):
    cfg, args = study("sampling", "sweep.rows=[w/o sampling]",
                      f"mlflow.tracking_uri={mlflow_server}", "mlflow.artifact_root=null")
    assert launch(cfg, args) == 0
    experiment = _rest(mlflow_server, "experiments/get-by-name",
                       {"experiment_name": "haco/sampling"}, get=True)["experiment"]
    found = _rest(mlflow_server, "runs/search", {
        "experiment_ids": [experiment["experiment_id"]],
        "filter": "tags.`haco.row` = 'w/o sampling'"})["runs"]
    assert len(found) == 1
    run = found[0]
    assert run["info"]["status"] == "FINISHED"
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert 0 <= metrics["test/MOW/f1"] <= 1 and metrics["cost/params_m"] > 0
    artifacts = _rest(mlflow_server, "artifacts/list", {"run_id": run["info"]["run_id"]},
                      get=True)
    assert "config.yaml" in {f["path"] for f in artifacts["files"]}


def _rest(server, endpoint, body, get=False):
    url = f"{server}/api/2.0/mlflow/{endpoint}"
    if get:
        from urllib.parse import urlencode

        request = urllib.request.Request(f"{url}?{urlencode(body)}")
    else:
        request = urllib.request.Request(url, json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_a_dry_run_prints_the_plan_and_launches_nothing(study, capsys):
    cfg, args = study("losses", "sweep.dry_run=true", "seeds=2")
    assert launch(cfg, args) == 0
    out = capsys.readouterr().out
    assert "10 cells x 2 seed(s) = 20 trials; 0 FINISHED already, 20 to run" in out
    assert "estimate: 20 trials" in out and "calibrated on" in out
    assert "calibration: 10 model(s) measured" in out  # each loss's objective, timed once
    assert "VCB loss (Ours)" in out
    assert runs_of(cfg) == ([], [])


def test_the_script_entry_reports_config_errors_with_exit_code_2(study, capsys):
    from haco.sweep import main

    _, args = study("losses", "sweep.rows=[CE]")
    assert main("losses", args[1:]) == 2
    assert "sweep.rows: ['CE'] not in study losses" in capsys.readouterr().err


def test_a_trial_run_starts_when_its_trial_starts_not_when_planned(study):
    """Trials run one at a time here: the second's run starts after the first's ended, so
    the UI's duration is the trial's own, not its wait in the queue."""
    cfg, args = study("losses", "sweep.rows=[CE loss,L1 loss]")
    assert launch(cfg, args) == 0
    children, _ = runs_of(cfg)
    first, second = sorted(children, key=lambda r: r.info.start_time)
    assert second.info.start_time >= first.info.end_time
    assert [r.data.tags["haco.attempts"] for r in (first, second)] == ["1", "1"]
