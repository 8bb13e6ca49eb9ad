"""haco.pretrain: samples with hand targets, the cached set, the cached weights, loading them."""

import numpy as np
import pytest
import torch

from haco.config import load_config
from haco.pretrain import dataset, samples
from haco.pretrain import train as pretrain_module
from haco.pretrain.train import TWIN_WEIGHTS, ensure_pretrained, weights_path


@pytest.fixture
def smoke(tmp_path):
    def compose(*overrides):
        return load_config("pretrain", ["profile=smoke", f"data.root={tmp_path}",
                                        f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
                                        "data.workers=1", *overrides])
    return compose


def test_a_sample_describes_the_hand_and_its_surroundings():
    sample = samples.generate(3, seed=0, image_size=32, target_size=8)
    assert sample["image"].shape == (32, 32, 3) and sample["image"].dtype == np.uint8
    assert sample["keypoints"].shape == (84, 3)
    assert np.abs(sample["keypoints"][:, :2]).max() <= 1.0  # the crop holds the whole hand
    assert sample["segment"].shape == (8, 8) and set(np.unique(sample["segment"])) >= {0, 1}
    background = sample["segment"] == 0
    assert (sample["depth"][background] == 0).all()
    again = samples.generate(3, seed=0, image_size=32, target_size=8)
    assert all(np.array_equal(sample[k], again[k]) for k in sample)  # deterministic


def test_the_pose_target_is_the_articulation_whatever_the_view(monkeypatch):
    from haco.synth import generate as synth

    first = samples.generate(5, seed=0, image_size=32, target_size=8)
    compose_view = synth.compose_view

    def another_view(scene, rng, size):  # the same scene, seen from another random direction
        rng.random(7)
        return compose_view(scene, rng, size)

    monkeypatch.setattr(synth, "compose_view", another_view)
    second = samples.generate(5, seed=0, image_size=32, target_size=8)
    assert not np.allclose(first["keypoints"], second["keypoints"], atol=1e-3)
    np.testing.assert_array_equal(first["pose"], second["pose"])
    assert first["pose"].shape == (84, 3)
    np.testing.assert_allclose(first["pose"].mean(axis=0), 0, atol=1e-5)  # centred
    spread = np.linalg.norm(first["pose"], axis=1).max()
    assert 0.3 < spread < 2.0  # decimetres: a hand is about 1-2 dm across


def test_pretraining_scenes_use_a_stream_of_their_own():
    from haco.synth.twins import SPLITS, sample_rng

    twin, k = samples.twin_of(0)
    assert len(set(SPLITS.values())) == len(SPLITS)
    ours = sample_rng(twin, samples.SPLIT, k, 0).random(4)
    for split in ("train", "val", "test"):
        assert not np.allclose(ours, sample_rng(twin, split, k, 0).random(4))


def test_weights_are_built_once_logged_once_and_reused(smoke, monkeypatch):
    import mlflow

    cfg = smoke()
    path = ensure_pretrained(cfg)
    assert path.is_file() and path == weights_path(cfg)
    monkeypatch.setattr(pretrain_module, "build_set", lambda *a: pytest.fail("rebuilt"))
    monkeypatch.setattr(pretrain_module, "pretrain", lambda *a: pytest.fail("retrained"))
    assert ensure_pretrained(cfg) == path
    mlflow.set_tracking_uri(str(cfg.mlflow.tracking_uri))
    runs = mlflow.search_runs(experiment_names=["haco/pretrain"])
    assert len(runs) == 1 and runs["tags.haco.pretrain.weights"][0] == str(path)
    assert "metrics.pretrain/holdout_keypoints" in runs
    assert "metrics.pretrain/holdout_pose" in runs


def test_a_changed_recipe_makes_new_weights(smoke):
    cfg = smoke()
    assert weights_path(smoke("pretrain.epochs=2")) != weights_path(cfg)
    assert weights_path(smoke("pretrain.lr=0.01")) != weights_path(cfg)
    assert dataset.set_dir(smoke("pretrain.samples=64")) != dataset.set_dir(cfg)
    assert dataset.set_dir(smoke("pretrain.epochs=2")) == dataset.set_dir(cfg)  # set reused
    assert weights_path(smoke("pretrain.loss_weights.pose=3")) != weights_path(cfg)
    assert weights_path(smoke("pretrain.loss_weights.pose=3")) == \
        weights_path(smoke("pretrain.loss_weights.pose=3.0"))


def test_loss_weights_must_name_every_loss_before_any_work(smoke, monkeypatch):
    from omegaconf import open_dict

    from haco.config import ConfigError

    monkeypatch.setattr(pretrain_module, "build_set", lambda *a: pytest.fail("built"))
    with pytest.raises(ConfigError, match="pretrain.loss_weights must weigh exactly"):
        ensure_pretrained(smoke("+pretrain.loss_weights.poses=1"))  # a typo
    with pytest.raises(ConfigError, match="keypoints, pose, segment, depth"):
        missing = smoke()
        with open_dict(missing):
            del missing.pretrain.loss_weights["depth"]
        ensure_pretrained(missing)


def test_a_failed_pretraining_leaves_no_weights_and_no_run(smoke, monkeypatch):
    import mlflow

    cfg = smoke()

    def killed(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(pretrain_module, "pretrain", killed)
    with pytest.raises(KeyboardInterrupt):
        ensure_pretrained(cfg)
    assert not weights_path(cfg).exists()
    assert not list(weights_path(cfg).parent.glob("*.pt"))
    mlflow.set_tracking_uri(str(cfg.mlflow.tracking_uri))
    assert mlflow.get_experiment_by_name("haco/pretrain") is None
    monkeypatch.undo()
    assert ensure_pretrained(cfg).is_file()


def test_an_interrupted_set_resumes_and_is_never_read_half_built(smoke):
    cfg = smoke()
    root = dataset.set_dir(cfg)
    root.mkdir(parents=True)
    dataset._write_shard(str(root / dataset.SHARD.format(0)), 0, 16, 0, 32, 16)
    (root / ".shard-00001.npz.partial-999").write_bytes(b"half a file")
    with pytest.raises(FileNotFoundError, match="haco pretrain"):
        dataset.load_set(root)
    first = (root / dataset.SHARD.format(0)).stat().st_mtime_ns
    dataset.build_set(cfg, progress=False)
    assert (root / dataset.SHARD.format(0)).stat().st_mtime_ns == first  # kept, not redone
    assert not list(root.glob(".*partial*"))
    data = dataset.load_set(root)
    assert len(data["image"]) == cfg.pretrain.samples
    fresh = samples.generate(20, 0, 32, 16)
    assert np.array_equal(data["image"][20], fresh["image"])


def test_a_trial_starts_from_the_pretrained_backbone(smoke, tmp_path):
    from haco.train.loop import make_twins, setup

    cfg = load_config("train", ["profile=smoke", f"data.root={tmp_path}",
                                f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
                                "data.workers=1", "data.train=[MOW]", "data.val=[MOW]",
                                "data.test=[MOW]", f"model.pretrained={TWIN_WEIGHTS}",
                                f"train.out_dir={tmp_path / 'run'}"])
    make_twins(cfg)  # what run(cfg) does before setup
    trial = setup(cfg)
    saved = torch.load(weights_path(cfg), weights_only=True)
    loaded = trial.model.backbone.model.state_dict()
    assert saved.keys() == loaded.keys()
    assert all(torch.equal(saved[k], loaded[k]) for k in saved)


def test_the_heads_refuse_a_token_grid_they_would_misread():
    from haco.pretrain.model import as_grid

    assert as_grid(torch.zeros(2, 17, 8)).shape == (2, 8, 4, 4)  # a class token, then 4x4
    with pytest.raises(ValueError, match="square token grid"):
        as_grid(torch.zeros(2, 192, 8))  # HaMeR's 16x12 patches
