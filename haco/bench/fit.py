"""`haco bench fit`: does the model learn from the image? Its F1 and AUROC beside the
input-blind Vertex prior's, on its own training images, the validation mix and each test set.

A model that does not fit its own training images better than the prior has not learned
to read the image, whatever its test F1; one that fits them but not validation
overfits. A third, stronger input-blind reference is printed beside them: the Dataset
prior of haco.baselines (every sample scored with its own dataset's training frequency, one
threshold chosen on the validation mix; NaN where it does not apply). It knows which
dataset a picture comes from (a model can learn that from the capture style) and nothing
else, so a model above the Vertex prior but not above it has learned dataset identity more
than contact. F1 is the paper's protocol at each predictor's own threshold, all chosen on
the validation mix (the model's: `model.threshold=val`, else its configured one). AUROC pools
every (sample, vertex) pair: it needs no threshold, so it shows ranking skill alone.

Run: haco bench fit [checkpoint=<out_dir>/last.pt]   (without one: trains `haco train`
     with the same overrides first, e.g. haco bench fit profile=quick loss=ce)
"""

from __future__ import annotations

import numpy as np
import torch
from omegaconf import OmegaConf
from scipy.stats import rankdata

from haco.metrics import contact_prf


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Pooled area under the ROC curve of `scores` for binary `labels` (same shape); ties
    count one half (Mann-Whitney U), so a constant-per-vertex prior is scored fairly."""
    scores, labels = np.ravel(scores), np.ravel(labels).astype(bool)
    positives, negatives = labels.sum(), (~labels).sum()
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2)
                 / (positives * negatives))


@torch.no_grad()
def predictions(model, cfg, names: list[str], split: str) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, labels), both (N, 778), of every sample of `names`' `split`."""
    from haco.data.loader import build_loader

    loader, _ = build_loader(cfg, names, split, train=False, workers=0)
    probs, labels = [], []
    for batch in loader:
        probs.append(torch.sigmoid(model(batch["image"])[778].float()).numpy())
        labels.append(batch["contacts"].numpy() > 0)
    return np.concatenate(probs), np.concatenate(labels)


def splits(cfg) -> dict[str, tuple[list[str], str]]:
    """{column: (source names, split)}: training mix, validation mix, each test set."""
    from haco.data.catalogue import dataset_names, source_name

    def names(key):
        return [source_name(cfg, n) for n in dataset_names(cfg, key)]
    out = {"train": (names("train"), "train"), "val": (names("val"), "val")}
    out.update({n.split(":")[-1]: ([n], "test") for n in names("test")})
    return out


def measure(checkpoint: str, overrides: dict | None = None) -> dict[str, dict[str, float]]:
    """{column: {model F1, prior F1, model AUROC, prior AUROC}} of a trained checkpoint."""
    from haco.baselines import best_threshold, vertex_prior
    from haco.data.catalogue import dataset_names, split_dirs
    from haco.train.checkpoint import load_trained
    from haco.train.evaluate import decision_threshold

    model, trained = load_trained(checkpoint)
    cfg = OmegaConf.merge(trained, overrides or {})
    found = {c: predictions(model, cfg, *where) for c, where in splits(cfg).items()}
    train_dirs = split_dirs(cfg, dataset_names(cfg, "train"), "train")
    prior = vertex_prior(cfg, list(train_dirs.values()))
    prior_threshold = best_threshold(prior, found["val"][1])
    threshold = decision_threshold(cfg)
    by_dataset = dataset_priors(cfg)
    table = {}
    for column, (probs, labels) in found.items():
        constant = np.broadcast_to(prior, probs.shape)
        table[column] = {
            "model F1": contact_prf(probs, labels, threshold)["f1"],
            "prior F1": contact_prf(constant, labels, prior_threshold)["f1"],
            "model AUROC": auroc(probs, labels), "prior AUROC": auroc(constant, labels),
            "dataset prior F1": by_dataset.get(column, float("nan"))}
    return table


def dataset_priors(cfg) -> dict[str, float]:
    """{column: F1 of the Dataset prior} (haco.baselines): its validation and test figures,
    and the training mix scored at its threshold; {} where it does not apply."""
    from haco.baselines import THRESHOLD, compute, contacts, own_priors, read_labels, stacked

    found = {b.name: b.metrics for b in compute(cfg)}.get("Dataset prior")
    if found is None:
        return {}
    labels = read_labels(cfg)
    train = stacked(own_priors(cfg, labels),
                    {name: contacts([folder]) for name, folder in labels.train.items()})
    out = {"train": contact_prf(*train, found[THRESHOLD])["f1"], "val": found.get("val/f1")}
    out.update({key.split("/")[1]: value for key, value in found.items()
                if key.startswith("test/") and key.endswith("/f1")})
    return {column: value for column, value in out.items() if value is not None}


def bench_command(cfg) -> int:
    from haco.train.loop import out_dir, run

    checkpoint = cfg.checkpoint
    if not checkpoint:
        run(cfg)
        checkpoint = str(out_dir(cfg) / "last.pt")
    table = measure(checkpoint, {"data": {"root": cfg.data.root}})
    columns = list(table)
    print(f"fit of {checkpoint}: F1 at the threshold chosen on the validation mix, pooled "
          "AUROC; prior = the training mix's per-vertex contact frequency; dataset prior = "
          "each sample's own dataset's frequency (knows the dataset, not the image)")
    print(f"{'':<17}" + "".join(f"{c:>9}" for c in columns))
    for row in ("model F1", "prior F1", "dataset prior F1", "model AUROC", "prior AUROC"):
        print(f"{row:<17}" + "".join(f"{table[c][row]:>9.3f}" for c in columns))
    return 0
