"""haco bench estimate: a launch's estimates read back beside what its trials took."""

from haco import ledger, tracking
from haco.bench.estimate import bench_command
from haco.config import load_config
from haco.ledger import Tag


def _cfg(tmp_path, *extra):
    return load_config("bench_estimate", [f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
                                          f"mlflow.artifact_root={tmp_path}/artifacts", *extra])


def _launch(cfg, estimated_wall, wall, trials):
    """A launch's parent run and its trials: [(name, estimate, actual, status)]."""
    client = tracking.client(cfg)
    experiment = tracking.experiment_id(client, cfg, "backbones")
    parent = ledger.create(client, experiment, "backbones 2026-12-03 17:00",
                           {Tag.LAUNCH: "true"})
    tracking.log_metrics(client, parent, {"sweep/estimated_wall_seconds": estimated_wall,
                                          "sweep/wall_seconds": wall})
    ledger.finish(client, parent)
    for name, estimated, actual, status in trials:
        run = ledger.create(client, experiment, name, {
            Tag.ROW: name.rsplit(" ", 1)[0], Tag.PARENT: parent, Tag.ESTIMATE: str(estimated)})
        tracking.log_metrics(client, run, {"sweep/trial_seconds": actual})
        client.set_terminated(run, status)


def test_estimates_beside_actuals_per_trial_and_launch(tmp_path, capsys):
    cfg = _cfg(tmp_path)
    _launch(cfg, 100.0, 130.0, [("ViT-H s0", 80.0, 100.0, "FINISHED"),
                                ("ResNet-18 s0", 10.0, 5.0, "FINISHED"),
                                ("FPN s0", 10.0, 3.0, "FAILED")])
    assert bench_command(cfg) == 0
    out = capsys.readouterr().out
    assert "estimated wall 100 s, actual 130 s, actual/estimate 1.30" in out
    assert "ViT-H s0" in out and "1.25" in out and "0.50" in out
    assert "FPN s0" not in out  # only finished trials took their whole time
    assert "all 2 trials" in out and "1.17" in out  # 105 of 90


def test_a_study_not_in_the_store_names_the_ones_there(tmp_path, capsys):
    _launch(_cfg(tmp_path), 1.0, 1.0, [])
    assert bench_command(_cfg(tmp_path, "study=losses")) == 2
    out = capsys.readouterr().out
    assert "no experiment for study losses" in out and "it has backbones" in out
