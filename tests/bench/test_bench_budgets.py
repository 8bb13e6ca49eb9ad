"""haco bench budgets: recorded times read back, scaled and set against the budgets."""

import json

from haco.bench.budgets import bench_command, measure
from haco.config import data_key, load_config


def _cfg(tmp_path, *extra):
    return load_config("bench_budgets", [f"data.root={tmp_path / 'data'}",
                                         f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
                                         f"mlflow.artifact_root={tmp_path}/artifacts", *extra])


def _record(cfg, tmp_path):
    """A twin build record (half the samples in 100 s), a pretraining run and three
    trial runs (two of these twins: 120 s and 200 s; one of other twins: 1,000 s)."""
    from haco import tracking
    from haco.pretrain.train import weights_path
    from haco.synth.generate import BUILD_RECORD
    from haco.synth.layout import synth_dir

    root = synth_dir(cfg)
    root.mkdir(parents=True)
    (root / BUILD_RECORD).write_text(json.dumps({"seconds": 100.0, "samples": 500,
                                                 "of": 1000, "workers": 2}))
    client = tracking.client(cfg)
    pre = client.create_run(tracking.experiment_id(client, cfg, "pretrain"),
                            tags={"haco.pretrain.weights": str(weights_path(cfg))})
    tracking.log_metrics(client, pre.info.run_id, {"pretrain/seconds": 900.0,
                                                    "pretrain/set_seconds": 400.0})
    losses = tracking.experiment_id(client, cfg, "losses")
    for seconds, key, row in [(120, data_key(cfg), "CE loss"), (200, data_key(cfg), "L1 loss"),
                              (1000, "other", "CE loss")]:
        run = client.create_run(losses, start_time=1_000_000, tags={  # queued an hour
            "haco.profile": str(cfg.profile), "haco.data_key": key, "haco.row": row})
        tracking.log_metrics(client, run.info.run_id, {"sweep/trial_seconds": seconds})
        client.set_terminated(run.info.run_id, "FINISHED", end_time=1_000_000 + 3_600_000)


def test_recorded_times_against_budgets(tmp_path, capsys):
    cfg = _cfg(tmp_path, "seeds=3")
    _record(cfg, tmp_path)
    found = {step: (seconds, limit) for step, seconds, limit, _ in measure(cfg)}
    assert found["twins"] == (200.0, 45 * 60)          # a half build scaled to the whole
    assert found["pretraining"] == (900.0, 45 * 60)
    assert found["one-time steps"][0] == 1100.0
    assert found["trial (median)"] == (160.0, 6 * 60)  # the other twins' trial is left out
    assert found["trial (slowest)"][0] == 200.0
    assert found["loss study"] == (10 * 3 * 160.0, 60 * 60)
    assert bench_command(cfg) == 0
    out = capsys.readouterr().out
    assert "loss study" in out and "1.33" in out     # 80 min of 60


def test_missing_records_say_what_to_run(tmp_path, capsys):
    cfg = _cfg(tmp_path)
    found = {step: (seconds, source) for step, seconds, _, source in measure(cfg)}
    assert found["twins"][0] is None and "haco data synth" in found["twins"][1]
    assert found["pretraining"][0] is None and "haco pretrain" in found["pretraining"][1]
    assert found["trial (median)"][0] is None and "sweeps/losses.py" in found["trial (median)"][1]
    assert found["loss study"][0] is None


def test_a_build_writes_its_record(tmp_path):
    from haco.synth.generate import BUILD_RECORD, synthesize

    cfg = load_config("data_synth", ["profile=smoke", f"data.root={tmp_path}",
                                     "data.twins=[synth:HIC]", "data.workers=1"])
    root = synthesize(cfg, progress=False)
    record = json.loads((root / BUILD_RECORD).read_text())
    assert record["samples"] == record["of"] > 0 and record["seconds"] > 0
    (root / BUILD_RECORD).unlink()
    synthesize(cfg, progress=False)                   # nothing left to build: no new record
    assert not (root / BUILD_RECORD).exists()


def test_a_profile_without_pretraining_costs_none(tmp_path):
    cfg = _cfg(tmp_path, "model.pretrained=null")
    found = {step: seconds for step, seconds, _, _ in measure(cfg)}
    assert found["pretraining"] == 0.0
