"""haco.sweep.models: after a launch, each row's best checkpoint is a registered model that
`haco predict` and `haco eval` load by name."""

import numpy as np
from PIL import Image

from haco import ledger, tracking
from haco.cli import main
from haco.sweep import launch


def test_model_names_read_like_their_rows():
    assert ledger.model_name("losses", "VCB loss (Ours)") == "haco-losses-vcb-loss-ours"
    assert ledger.model_name("datasets", "HS+HH") == "haco-datasets-hs-hh"


def test_a_launch_registers_each_rows_best_checkpoint_and_predict_loads_it(study, tmp_path,
                                                                          capsys):
    cfg, args = study("losses", "sweep.rows=[CE loss]", "seeds=2")
    assert launch(cfg, args) == 0
    assert "registered the best checkpoint of 1 row(s)" in capsys.readouterr().out
    client = tracking.client(cfg)
    (version,) = client.search_model_versions("name='haco-losses-ce-loss'")
    runs = {r.info.run_id: r for r in client.search_runs(
        [tracking.experiment_id(client, cfg, "losses")], filter_string=ledger.TRIALS)}
    best = max(runs.values(), key=lambda r: r.data.metrics["val/f1"])
    assert version.run_id == best.info.run_id
    assert version.tags["selected_by"] == "val/f1" and "test/MOW/f1" in version.tags
    assert runs[best.info.run_id].data.tags[ledger.Tag.MODEL] == f"haco-losses-ce-loss/{version.version}"

    image = tmp_path / "hand.png"
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(image)
    out = tmp_path / "pred"
    assert main(["predict", f"image={image}", f"out={out}",
                 f"checkpoint=models:/haco-losses-ce-loss/{version.version}",
                 f"mlflow.tracking_uri={cfg.mlflow.tracking_uri}"]) == 0
    probs = np.load(next(out.glob("*.contact.npy")))
    assert probs.shape == (778,) and ((probs >= 0) & (probs <= 1)).all()
    # a re-run with nothing to launch registers nothing new
    assert launch(cfg, args) == 0
    assert len(client.search_model_versions("name='haco-losses-ce-loss'")) == 1
