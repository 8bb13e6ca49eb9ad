"""haco bench fit: AUROC against a plain reference; the model and prior side by side."""

import numpy as np
import pytest

from haco.bench.fit import auroc, measure
from haco.config import load_config


def reference_auroc(scores, labels):
    """Probability that a random positive outscores a random negative (ties: one half)."""
    pos, neg = scores[labels], scores[~labels]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_auroc_matches_the_pairwise_definition_ties_included():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, (6, 7)).astype(float)  # many ties, like a per-vertex prior
    labels = rng.random((6, 7)) < 0.4
    assert auroc(scores, labels) == pytest.approx(reference_auroc(scores.ravel(),
                                                                  labels.ravel()))
    assert auroc(labels.astype(float), labels) == 1.0
    assert np.isnan(auroc(scores, np.zeros_like(labels)))


def test_fit_reports_model_and_prior_on_train_val_and_each_test_set(tmp_path):
    from haco.baselines import compute
    from haco.train import run

    cfg = load_config("train", ["profile=smoke", f"data.root={tmp_path}",
                                "data.train=[MOW,HIC]", "data.val=[MOW,HIC]",
                                "data.test=[MOW]", "model.threshold=val", "train.progress=log",
                                f"train.out_dir={tmp_path / 'run'}"])
    run(cfg)
    table = measure(str(tmp_path / "run" / "last.pt"))
    assert list(table) == ["train", "val", "MOW"]
    for column in table.values():
        assert set(column) == {"model F1", "prior F1", "dataset prior F1", "model AUROC",
                               "prior AUROC"}
        finite = {k: v for k, v in column.items() if not np.isnan(v)}
        assert all(0 <= v <= 1 for v in finite.values())
        assert "dataset prior F1" in finite  # every column's datasets are trained on
    prior = {b.name: b.metrics for b in compute(cfg)}["Vertex prior"]
    assert table["val"]["prior F1"] == pytest.approx(prior["val/f1"])
    assert table["MOW"]["prior F1"] == pytest.approx(prior["test/MOW/f1"])
    val, mow = reference_dataset_prior_f1s(cfg)
    assert table["val"]["dataset prior F1"] == pytest.approx(val)
    assert table["MOW"]["dataset prior F1"] == pytest.approx(mow)


def reference_dataset_prior_f1s(cfg):
    """By hand: each sample gets its dataset's training frequency, every threshold is tried
    on the validation mix, then the paper's per-sample F1 (non-contact samples skipped) on
    the validation mix and on MOW's test labels."""
    from haco.baselines import contacts
    from haco.data.catalogue import split_dirs

    def f1s(pred, labels):
        keep = labels.any(axis=1)
        tp = (pred & labels)[keep].sum(axis=1)
        p = tp / np.maximum(pred[keep].sum(axis=1), 1)
        r = tp / labels[keep].sum(axis=1)
        return np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0).mean()

    def labels(name, split):
        return contacts(split_dirs(cfg, [name], split).values())
    freq = {n: labels(n, "train").mean(axis=0).astype(np.float32) for n in ("MOW", "HIC")}
    val_labels = np.concatenate([labels(n, "val") for n in ("MOW", "HIC")])
    val_prior = np.concatenate([np.broadcast_to(freq[n], labels(n, "val").shape)
                                for n in ("MOW", "HIC")])
    best = max(np.unique(val_prior), key=lambda t: (f1s(val_prior >= t, val_labels), -t))
    test = labels("MOW", "test")
    return f1s(val_prior >= best, val_labels), f1s(np.broadcast_to(freq["MOW"] >= best,
                                                                    test.shape), test)
