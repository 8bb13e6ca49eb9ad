"""haco.baselines: the input-blind floor on hand-made labels, imported as real data (the
path `data.source=real` takes), logged to a throwaway MLflow store."""

import numpy as np
import pytest

from haco import baselines, ledger, tracking
from haco.cli import main
from haco.config import config_hash, data_key, load_config
from haco.data.shards import write_shard
from haco.ledger import Tag
from haco.metrics import contact_prf

V = 778


def block(n: int, ranges) -> np.ndarray:
    """(n, 778) bool labels, every sample in contact on the vertices of `ranges`."""
    labels = np.zeros((n, V), bool)
    for start, stop in ranges:
        labels[:, start:stop] = True
    return labels


@pytest.fixture
def real(tmp_path):
    """write(train=, val=, test=) imports hand-made MOW splits as real data and returns
    the `config` overrides of a trial reading them (MOW only, smoke sizes)."""
    def write(**splits):
        for split, labels in splits.items():
            n = len(labels)
            write_shard(tmp_path / "data" / "real" / "MOW" / split, 0,
                        np.zeros((n, 8, 8, 3), np.uint8), labels, np.zeros((n, V, 3), np.float32),
                        {"dataset": "MOW", "split": split, "group": "HO",
                         "ids": [f"{split}/{i}" for i in range(n)]})
        return ["profile=smoke", "data.source=real", f"data.root={tmp_path / 'data'}",
                "data.train=[MOW]", "data.val=[MOW]", "data.test=[MOW]",
                f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
                f"mlflow.artifact_root={tmp_path}/artifacts",
                f"sweep.storage_path={tmp_path}/runs"]
    return write


def mlflow_of(cfg, study="sampling"):
    client = tracking.client(cfg)
    return client, tracking.experiment_id(client, cfg, study)


def baseline_runs(client, experiment):
    return [r for r in client.search_runs([experiment])
            if r.data.tags.get("haco.kind") == "baseline"]


def test_all_contact_f1_is_the_mean_over_contact_samples_of_2p_over_1_plus_p(real):
    shares = [78, 389, 700, 0]  # contact vertices per test sample; the last one is skipped
    test = np.zeros((4, V), bool)
    for i, k in enumerate(shares):
        test[i, :k] = True
    cfg = load_config("baselines", real(train=block(4, [(0, 100)]), val=block(2, [(0, 100)]),
                                     test=test))
    every = baselines.compute(cfg)[0]
    p = np.array(shares[:3]) / V
    assert every.name == "All contact"
    assert every.metrics["test/MOW/f1"] == pytest.approx(np.mean(2 * p / (1 + p)))
    assert every.metrics["test/MOW/precision"] == pytest.approx(p.mean())
    assert every.metrics["test/MOW/recall"] == 1.0 and every.metrics["test/MOW/count"] == 3


def test_baselines_are_scored_under_the_trials_protocol(real):
    """eval.protocol=release (fidelity=release) averages every test sample, the
    non-contact one as 0, and names other baselines than the paper's (its own data key)."""
    shares = [78, 389, 700, 0]
    test = np.zeros((4, V), bool)
    for i, k in enumerate(shares):
        test[i, :k] = True
    splits = real(train=block(4, [(0, 100)]), val=block(2, [(0, 100)]), test=test)
    paper = load_config("baselines", splits)
    release = load_config("baselines", splits + ["eval.protocol=release"])
    p = np.array(shares[:3]) / V
    every = baselines.compute(release)[0].metrics
    assert every["test/MOW/f1"] == pytest.approx(np.sum(2 * p / (1 + p)) / 4)
    assert every["test/MOW/count"] == 4
    assert data_key(release) != data_key(paper)
    assert data_key(load_config("baselines", splits + ["eval.protocol=paper"])) == data_key(paper)


def test_the_vertex_prior_threshold_is_chosen_on_validation_never_on_test(real):
    """Training contact: vertices 0-99 always, 100-299 half the time -> a prior of 1.0,
    0.5 and 0. Validation touches 0-99 (best threshold 1.0), test 0-299 (best 0.5)."""
    train = block(10, [(0, 100)])
    train[:5, 100:300] = True
    val, test = block(3, [(0, 100)]), block(3, [(0, 300)])
    cfg = load_config("baselines", real(train=train, val=val, test=test))
    prior = baselines.vertex_prior(cfg, baselines.read_labels(cfg).train_dirs)
    assert baselines.best_threshold(prior, test) == 0.5  # what peeking at test would pick
    client, experiment = mlflow_of(cfg)
    found = baselines.ensure(client, experiment, "sampling", [cfg])[data_key(cfg)]
    metrics = found.metrics["Vertex prior"]
    assert metrics[baselines.THRESHOLD] == 1.0
    assert metrics["val/f1"] == 1.0
    assert metrics["test/MOW/f1"] == pytest.approx(0.5)  # P 1, R 1/3
    assert metrics["test/MOW/recall"] == pytest.approx(1 / 3)
    run = next(r for r in baseline_runs(client, experiment)
               if r.data.tags["haco.baseline"] == "Vertex prior")
    assert run.data.metrics[baselines.THRESHOLD] == 1.0  # logged
    assert run.data.tags[Tag.BASELINE_THRESHOLD_ON] == "val"


def test_the_threshold_is_the_exact_optimum_over_every_prior_value():
    rng = np.random.default_rng(3)
    prior = rng.choice(np.linspace(0, 1, 60), V).astype(np.float32)
    labels = rng.random((40, V)) < prior * 0.6
    chosen = baselines.best_threshold(prior, labels)
    probs = np.broadcast_to(prior, labels.shape).copy()
    f1 = {float(t): contact_prf(probs, labels, float(t))["f1"] for t in np.unique(prior)}
    assert f1[chosen] == max(f1.values())
    assert chosen in set(prior.tolist())


def test_baseline_runs_are_tagged_cached_and_never_counted_as_trials(real, monkeypatch):
    from haco.ledger import trials_by_key as study_runs
    from haco.report.runs import load_baselines, load_runs

    cfg = load_config("baselines", real(train=block(4, [(0, 50)]), val=block(2, [(0, 50)]),
                                     test=block(2, [(0, 60)])))
    client, experiment = mlflow_of(cfg)
    first = baselines.ensure(client, experiment, "sampling", [cfg, cfg])  # one data key
    assert [f.computed for f in first.values()] == [3]
    runs = baseline_runs(client, experiment)
    assert sorted(r.info.run_name for r in runs) == ["baseline: All contact",
                                                     "baseline: Dataset prior",
                                                     "baseline: Vertex prior"]
    for run in runs:
        tags = run.data.tags
        assert run.info.status == "FINISHED" and "haco.row" not in tags
        assert tags["haco.study"] == "sampling" and tags["haco.data_key"] == data_key(cfg)
        assert tags["haco.profile"] == "smoke" and tags["haco.data"] == "real"
        assert "git.sha" in tags and run.data.params["data.test"] == "['MOW']"
        assert {"test/MOW/f1", "val/f1"} <= set(run.data.metrics)

    def recompute(_):
        raise AssertionError("cached baselines were computed again")
    monkeypatch.setattr(baselines, "compute", recompute)
    again = baselines.ensure(client, experiment, "sampling", [cfg])
    assert [f.computed for f in again.values()] == [0]
    assert again[data_key(cfg)].metrics == first[data_key(cfg)].metrics
    assert len(baseline_runs(client, experiment)) == 3
    assert study_runs(client, experiment) == {}  # the launcher sees no trial
    uri = cfg.mlflow.tracking_uri
    assert load_runs(uri, "sampling").empty  # nor do the reports
    assert len(load_baselines(uri, "sampling")) == 3


def test_a_failure_while_logging_leaves_no_finished_run(real, monkeypatch):
    cfg = load_config("baselines", real(train=block(4, [(0, 50)]), val=block(2, [(0, 50)]),
                                     test=block(2, [(0, 60)])))
    client, experiment = mlflow_of(cfg)

    def broken(*args, **kwargs):
        raise OSError("the tracking server went away")
    monkeypatch.setattr(tracking, "log_metrics", broken)
    with pytest.raises(OSError, match="went away"):
        baselines.ensure(client, experiment, "sampling", [cfg])
    assert [r.info.status for r in baseline_runs(client, experiment)] == ["FAILED"]
    monkeypatch.undo()
    assert baselines.cached(client, experiment, data_key(cfg)) == {}  # nothing to reuse
    found = baselines.ensure(client, experiment, "sampling", [cfg])
    assert [f.computed for f in found.values()] == [3]


def test_without_validation_splits_the_training_labels_choose_the_threshold(real):
    cfg = load_config("baselines", [*real(train=block(4, [(0, 50)]), test=block(2, [(0, 60)])),
                                 "data.val=[]"])
    prior_run = baselines.compute(cfg)[1]
    assert prior_run.threshold_on == "train" and "val/f1" not in prior_run.metrics


def test_a_missing_real_split_is_a_config_error_naming_it(real, capsys):
    args = real(train=block(4, [(0, 50)]), val=block(2, [(0, 50)]))  # no test split
    assert main(["baselines", "study=sampling", *args]) == 2
    err = capsys.readouterr().err
    assert "no test split for MOW" in err and "haco data import" in err


def test_the_command_expands_the_study_and_prints_its_baselines(real, capsys):
    args = real(train=block(4, [(0, 50)]), val=block(2, [(0, 50)]), test=block(2, [(0, 60)]))
    assert main(["baselines", "study=sampling", *args]) == 0
    out = capsys.readouterr().out
    assert "input-blind baselines of study sampling (profile smoke, data real" in out
    assert "rows: w/o sampling, w/ sampling (Ours)): 3 computed" in out  # one data key
    assert "All contact" in out and "Vertex prior" in out and "MOW P/R/F1" in out
    assert main(["baselines", "study=sampling", *args]) == 0
    assert "): reused" in capsys.readouterr().out


def test_the_data_key_follows_the_labels_not_the_seed_paths_or_method():
    base = ["profile=smoke"]
    key = data_key(load_config("config", base))
    same = [["seed=4"], ["data.root=/elsewhere"], ["loss=ce"], ["loader.workers=7"],
            ["model.backbone=resnet-18"]]
    other = [["data.train=[HS]"], ["data.test=[MOW]"], ["data.seed=1"], ["profile=quick"],
             ["data.source=real"], ["data.val_size=9"]]
    assert all(data_key(load_config("config", base + o)) == key for o in same)
    assert len({key, *(data_key(load_config("config", base + o)) for o in other)}) == 7
    cfg = load_config("config", base)
    assert ledger.trial_tags(cfg, "losses", "Table 3", "CE loss", None)[
        "haco.data_key"] == key
    assert config_hash(cfg) != key


def write_real(root, dataset, **splits):
    for split, labels in splits.items():
        n = len(labels)
        write_shard(root / "data" / "real" / dataset / split, 0,
                    np.zeros((n, 8, 8, 3), np.uint8), labels, np.zeros((n, V, 3), np.float32),
                    {"dataset": dataset, "split": split, "group": "HO",
                     "ids": [f"{split}/{i}" for i in range(n)]})


def test_the_dataset_prior_scores_each_sample_with_its_own_datasets_frequency(tmp_path):
    # MOW touches vertices 0-49, RICH 100-299: the mix's prior (0.5 on both) predicts both
    # patches everywhere, each dataset's own prior (1 on its patch) only its own.
    write_real(tmp_path, "MOW", train=block(4, [(0, 50)]), val=block(2, [(0, 50)]),
               test=block(2, [(0, 60)]))
    write_real(tmp_path, "RICH", train=block(4, [(100, 300)]), val=block(2, [(100, 300)]))
    args = ["profile=smoke", "data.source=real", f"data.root={tmp_path / 'data'}",
            "data.train=[MOW,RICH]", "data.val=[MOW,RICH]", "data.test=[MOW]"]
    found = {b.name: b for b in baselines.compute(load_config("baselines", args))}
    dataset, mix = found["Dataset prior"].metrics, found["Vertex prior"].metrics
    assert dataset["val/f1"] == pytest.approx(1.0)
    assert mix["val/f1"] == pytest.approx((2 * 0.2 / 1.2 + 2 * 0.8 / 1.8) / 2)
    assert dataset["test/MOW/f1"] == pytest.approx(2 * 50 / 60 / (1 + 50 / 60))
    assert dataset[baselines.THRESHOLD] == pytest.approx(1.0)
    assert found["Dataset prior"].threshold_on == "val"
    # A validation set outside the training mix has no own prior: no Dataset prior at all.
    held_out = load_config("baselines", [*args, "data.train=[MOW]"])
    assert not baselines.dataset_prior_applies(held_out)
    assert "Dataset prior" not in {b.name for b in baselines.compute(held_out)}
