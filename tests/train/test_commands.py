"""`haco train`, `haco eval` and `haco predict` through the CLI, on smoke checkpoints."""

import numpy as np
import pytest
import trimesh

from haco.cli import main
from haco.data.shards import SplitReader
from haco.synth.layout import split_dir
from haco.train import run


@pytest.fixture(scope="module")
def trained(data_root, tmp_path_factory):
    from haco.config import load_config

    out = tmp_path_factory.mktemp("trained")
    cfg = load_config("train", ["profile=smoke", f"data.root={data_root}",
                                "data.train=[MOW,HIC]", "data.val=[]", "data.test=[MOW]",
                                f"train.out_dir={out}", "train.progress=log"])
    return cfg, run(cfg), out / "last.pt"


def test_train_prints_the_resolved_config_without_running(capsys):
    assert main(["train", "profile=smoke", "loss=focal", "--cfg"]) == 0
    printed = capsys.readouterr().out
    assert "name: focal" in printed and "backbone: test-resnet" in printed


def test_eval_reproduces_the_trained_runs_test_metrics(trained, data_root, tmp_path, capsys):
    _cfg, metrics, checkpoint = trained
    out = tmp_path / "eval.json"
    assert main(["eval", f"checkpoint={checkpoint}", f"data.root={data_root}",
                 "data.test=[MOW]", f"out={out}"]) == 0
    import json

    evaluated = json.loads(out.read_text())
    assert evaluated["test/MOW/f1"] == pytest.approx(metrics["test/MOW/f1"])
    assert "test MOW" in capsys.readouterr().out


def test_eval_scores_under_its_own_protocol(trained, data_root, tmp_path):
    """`haco eval fidelity=release` averages every MOW test sample (non-contact ones as
    0), so its F1 is the paper protocol's times the share of samples with contact."""
    import json

    cfg, metrics, checkpoint = trained
    out = tmp_path / "release.json"
    assert main(["eval", f"checkpoint={checkpoint}", f"data.root={data_root}",
                 "data.test=[MOW]", "fidelity=release", f"out={out}"]) == 0
    release = json.loads(out.read_text())
    labels = SplitReader(split_dir(cfg, "synth:MOW", "test")).contacts_matrix()
    share = labels.any(axis=1).mean()
    assert release["test/MOW/count"] == len(labels) and share < 1
    assert release["test/MOW/f1"] == pytest.approx(metrics["test/MOW/f1"] * share)


def test_eval_names_a_missing_checkpoint(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        main(["eval", f"checkpoint={tmp_path / 'nope.pt'}"])


def test_predict_writes_probabilities_picture_and_coloured_mesh(trained, tmp_path):
    from PIL import Image

    cfg, _, checkpoint = trained
    image = SplitReader(split_dir(cfg, "synth:MOW", "test")).get_batch(np.arange(1))["image"][0]
    path = tmp_path / "hand.png"
    Image.fromarray(image).resize((100, 80)).save(path)  # any size: the centre square is used
    assert main(["predict", f"image={path}", f"checkpoint={checkpoint}", f"out={tmp_path}"]) == 0
    probs = np.load(tmp_path / "hand.contact.npy")
    assert probs.shape == (778,) and ((probs >= 0) & (probs <= 1)).all()
    assert (tmp_path / "hand.contact.png").stat().st_size > 10_000
    mesh = trimesh.load(tmp_path / "hand.contact.ply", process=False)
    assert mesh.vertices.shape == (778, 3)
    assert mesh.visual.vertex_colors.shape == (778, 4)
    # The most and least confident vertices get different colours.
    hi, lo = probs.argmax(), probs.argmin()
    assert probs[hi] == probs[lo] or (mesh.visual.vertex_colors[hi] != mesh.visual.vertex_colors[lo]).any()


def test_predict_names_a_missing_image(trained, tmp_path):
    _, _, checkpoint = trained
    with pytest.raises(FileNotFoundError, match="image not found"):
        main(["predict", f"image={tmp_path / 'none.png'}", f"checkpoint={checkpoint}"])


def test_train_stops_before_it_starts_when_its_disk_is_too_small(tmp_path, monkeypatch,
                                                                  capsys):
    """The twins it would make and its checkpoints, estimated before anything is written."""
    from haco import disk
    from haco.config import load_config
    from haco.train.cli import disk_needs

    monkeypatch.setattr(disk, "free_bytes", lambda path: 1000)
    root, out = tmp_path / "data", tmp_path / "out"
    args = ["profile=smoke", f"data.root={root}", "data.train=[MOW]", "data.val=[]",
            "data.test=[MOW]", f"train.out_dir={out}", f"mlflow.tracking_uri=sqlite:///{tmp_path}/m.db"]
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("haco: not enough disk space: ") and "1.0 KB free" in err
    assert "checkpoint" in err and "train.out_dir=..." in err and "data.root=..." in err
    assert not root.exists() and not out.exists()
    twins, checkpoint = disk_needs(load_config("train", args))
    assert twins.bytes > 0 and checkpoint.bytes > 0  # a smoke model: some MB of AdamW state
