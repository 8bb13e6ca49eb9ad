"""haco.train.run on the smoke profile: metrics, costs, resume, divergence, config errors."""

import json
import math

import pytest
import torch

from haco.config import ConfigError
from haco.train import DivergenceError, run
from haco.train import loop as loop_module

COSTS = ("params_m", "model_memory_mb", "train_memory_mb", "fps", "gflops", "train_seconds",
         "device_hours", "usd")


def test_a_smoke_run_reports_every_metric_and_positive_costs(smoke_cfg):
    cfg = smoke_cfg()
    metrics = run(cfg)
    for key in ("train/loss", "train/vcb/778", "train/vcb/21", "train/reg", "train/smooth",
                "val/precision", "val/recall", "val/f1", "val/best_threshold",
                "test/MOW/precision", "test/MOW/recall", "test/MOW/f1", "test/HIC/f1",
                "test/MOW/palm/f1", "test/HIC/thumb_tip/recall"):
        assert key in metrics, key
    for name in COSTS:
        assert metrics[f"cost/{name}"] > 0, name
    assert 0 <= metrics["test/MOW/f1"] <= 1
    out = cfg.train.out_dir
    saved = json.loads((__import__("pathlib").Path(out) / "metrics.json").read_text())
    assert saved["test/MOW/f1"] == metrics["test/MOW/f1"]
    checkpoint = torch.load(f"{out}/last.pt", weights_only=True)
    assert checkpoint["epoch"] == 2 and len(checkpoint["history"]) == 2


def test_a_run_leaves_its_history_and_the_mean_predictions_per_test_set(smoke_cfg):
    import numpy as np

    from haco.train.loop import HEATMAPS, HISTORY

    cfg = smoke_cfg()
    run(cfg)
    out = __import__("pathlib").Path(cfg.train.out_dir)
    history = json.loads((out / HISTORY).read_text())
    assert [sorted(r) == sorted(history[0]) for r in history] == [True, True]
    assert "val/f1" in history[0]
    with np.load(out / HEATMAPS) as maps:
        assert sorted(maps.files) == ["HIC", "MOW"]
        assert maps["MOW"].shape == (778,)
        assert ((maps["MOW"] >= 0) & (maps["MOW"] <= 1)).all()


@pytest.mark.parametrize("init", ["mean", "none", "zeros", "ones"])
def test_every_contact_initialization_trains_end_to_end(smoke_cfg, init):
    cfg = smoke_cfg(f"model.init={init}", "model.init_dataset=MOW", "train.epochs=1")
    assert 0 <= run(cfg)["test/MOW/f1"] <= 1


def comparable(metrics):
    """Every metric but the costs, as text: NaN (a region no sample touches) equals NaN."""
    return json.dumps({k: v for k, v in metrics.items() if not k.startswith("cost/")},
                      sort_keys=True)


def test_a_resumed_run_ends_exactly_where_an_uninterrupted_one_does(smoke_cfg):
    whole = run(smoke_cfg("train.epochs=3", out="whole"))

    class Stop(Exception):
        pass

    def interrupt(epoch, record, path):
        if epoch == 1:
            raise Stop  # killed after the checkpoint of epoch 2 of 3
    with pytest.raises(Stop):
        run(smoke_cfg("train.epochs=3", out="parts"), on_epoch=interrupt)
    seen = []
    resumed = run(smoke_cfg("train.epochs=3", "train.resume=true", out="parts"),
                  on_epoch=lambda epoch, record, path: seen.append(epoch))
    assert seen == [2]  # only the last epoch ran again
    assert comparable(resumed) == comparable(whole)


def test_resume_refuses_another_configurations_checkpoint(smoke_cfg):
    run(smoke_cfg(out="a"))
    with pytest.raises(ConfigError, match="another configuration"):
        run(smoke_cfg("train.resume=true", "train.lr=0.5", out="a"))


def test_a_nan_loss_stops_the_run_and_keeps_the_good_checkpoint(smoke_cfg, monkeypatch):
    cfg = smoke_cfg("train.epochs=3")
    calls = {"n": 0}
    real_augment = loop_module.augment

    def poisoned(images, aug_cfg, generator):
        calls["n"] += 1
        images = real_augment(images, aug_cfg, generator)
        return images * math.nan if calls["n"] == 4 else images  # epoch 2, step 2
    monkeypatch.setattr(loop_module, "augment", poisoned)
    with pytest.raises(DivergenceError, match=r"epoch 2, step 2: loss term '.*' is nan"):
        run(cfg)
    saved = torch.load(f"{cfg.train.out_dir}/last.pt", weights_only=True)
    assert saved["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in saved["model"].values()
               if v.is_floating_point())


def test_exploding_gradients_stop_the_run(smoke_cfg):
    with pytest.raises(DivergenceError, match=r"epoch 1, step 1: gradient norm .* exceeds "
                                              r"train.max_grad_norm"):
        run(smoke_cfg("train.max_grad_norm=1e-12"))


@pytest.mark.parametrize("override, message", [
    ("loss.name=nope", "unknown loss 'nope'"),
    ("loss.params.gama=2", "gama"),
    ("model.backbone=resnet-17", "unknown backbone 'resnet-17'"),
    ("data.train=[MOWW]", "MOWW"),
    ("model.init=mean", "model.init_dataset"),
    ("train.precision=fp8", "train.precision"),
    ("train.epochs=0", "train.epochs"),
    ("train.backbone_lr_scale=-1", "train.backbone_lr_scale"),
])
def test_configuration_errors_surface_before_anything_runs(smoke_cfg, override, message,
                                                           monkeypatch):
    monkeypatch.setattr(loop_module, "setup", lambda *a, **k: pytest.fail("setup ran"))
    with pytest.raises(ConfigError, match=message):
        run(smoke_cfg(override))


def test_the_backbone_learns_at_its_own_scale_of_the_rate(smoke_cfg):
    from haco.model.haco import model_from_config

    cfg = smoke_cfg("train.lr=0.002", "train.backbone_lr_scale=0.1")
    model = model_from_config(cfg)
    backbone, rest = loop_module.param_groups(model, cfg.train)
    assert backbone["lr"] == pytest.approx(0.0002) and "lr" not in rest  # rest: the default
    assert len(backbone["params"]) + len(rest["params"]) == len(list(model.parameters()))
    assert {id(p) for p in backbone["params"]} == {id(p) for p in model.backbone.parameters()}
    from haco.train.checkpoint import load_trained

    def backbone(epochs, scale):
        cfg = smoke_cfg(f"train.backbone_lr_scale={scale}", f"train.epochs={epochs}",
                        out=f"e{epochs}-{scale}")
        run(cfg)
        state = load_trained(f"{cfg.train.out_dir}/last.pt")[0].backbone.state_dict()
        return {k: v for k, v in state.items() if k.endswith("weight")}

    def moved(scale):  # did a second epoch change any backbone weight?
        one, two = backbone(1, scale), backbone(2, scale)
        return any(not torch.equal(one[k], two[k]) for k in one)

    assert moved(1.0) and not moved(0.0)


def test_threads_follow_the_trials_resources(smoke_cfg, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    try:
        assert loop_module.set_threads(smoke_cfg()) == 1
        assert torch.get_num_threads() == 1
        assert loop_module.set_threads(smoke_cfg("train.threads=2")) == 2
    finally:
        torch.set_num_threads(before)


def test_a_threshold_chosen_on_validation_is_the_one_the_tests_use(smoke_cfg):
    from haco.train.checkpoint import load_trained

    cfg = smoke_cfg("model.threshold=val")
    metrics = run(cfg)
    history = json.loads((__import__("pathlib").Path(cfg.train.out_dir) / "history.json")
                         .read_text())
    assert metrics["eval/threshold"] == history[-1]["val/best_threshold"]
    _, trained = load_trained(f"{cfg.train.out_dir}/last.pt")
    assert trained.model.threshold == metrics["eval/threshold"]  # eval/predict reuse it


def test_a_threshold_chosen_on_validation_needs_validation(smoke_cfg, monkeypatch):
    monkeypatch.setattr(loop_module, "setup", lambda *a, **k: pytest.fail("setup ran"))
    with pytest.raises(ConfigError, match="data.val is empty"):
        run(smoke_cfg("model.threshold=val", "data.val=[]"))
