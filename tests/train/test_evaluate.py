"""eval.protocol reaches the test metrics and validation (haco.train.evaluate, loop)."""

import contextlib
import math
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf

from haco.data.catalogue import split_dirs
from haco.data.loader import build_loader, specs_for
from haco.metrics import contact_prf
from haco.train import evaluate as evaluate_module
from haco.train import loop as loop_module
from haco.train.evaluate import protocol_of

DEVICE = torch.device("cpu")


class ImageDependentGuess(torch.nn.Module):
    """Untrained stand-in for the model: per-vertex logits that vary with the image, so some
    samples predict contact and the threshold sweep has something to choose."""

    def __init__(self):
        super().__init__()
        self.register_buffer("phase", torch.arange(778, dtype=torch.float32) * 0.37)

    def forward(self, images):
        brightness = images.mean(dim=(1, 2, 3))
        return {778: 3.0 * torch.sin(50.0 * brightness[:, None] + self.phase[None, :])}


def predictions(cfg, name, split):
    """(probs, labels) of the stand-in over one split (a paper name), every sample once."""
    dirs = split_dirs(cfg, [name], split)
    loader, _ = build_loader(cfg, specs_for(cfg, list(dirs), split), split, train=False,
                             workers=0)
    model = ImageDependentGuess()
    probs, labels = [], []
    for batch in loader:
        probs.append(torch.sigmoid(model(batch["image"])[778]))
        labels.append(batch["contacts"])
    return torch.cat(probs), torch.cat(labels)


def test_protocol_defaults_to_the_papers_for_configs_without_it(smoke_cfg):
    assert protocol_of(smoke_cfg()) == "paper"
    assert protocol_of(smoke_cfg("fidelity=release")) == "release"
    assert protocol_of(smoke_cfg("fidelity=release", "eval.protocol=paper")) == "paper"
    older = OmegaConf.create({"model": {"threshold": None}})  # saved before the switch
    assert protocol_of(older) == "paper"


def test_test_metrics_follow_eval_protocol(smoke_cfg):
    paper_cfg, release_cfg = smoke_cfg(), smoke_cfg("eval.protocol=release")
    model = ImageDependentGuess()
    paper = evaluate_module.test_metrics(model, paper_cfg, DEVICE, 0.5)
    release = evaluate_module.test_metrics(model, release_cfg, DEVICE, 0.5)
    differs = False
    for name in ("MOW", "HIC"):
        probs, labels = predictions(paper_cfg, name, "test")
        for cfg_metrics, protocol in ((paper, "paper"), (release, "release")):
            expected = contact_prf(probs, labels, 0.5, protocol=protocol)
            got = {k: cfg_metrics[f"test/{name}/{k}"] for k in expected}
            assert got == pytest.approx(expected, abs=1e-12)
        differs |= paper[f"test/{name}/count"] < release[f"test/{name}/count"]
        regions = [k for k in paper if k.startswith(f"test/{name}/") and k.count("/") == 3]
        # regions keep the paper's rule under either protocol
        assert regions and all(paper[k] == release[k] or math.isnan(paper[k]) and
                               math.isnan(release[k]) for k in regions)
    assert differs  # some test sample without contact, so the protocols part


def test_validation_follows_eval_protocol(smoke_cfg):
    def validate(*overrides):
        cfg = smoke_cfg(*overrides)
        dirs = split_dirs(cfg, ["MOW"], "val")
        loader, _ = build_loader(cfg, specs_for(cfg, list(dirs), "val"), "val", train=False,
                                 workers=0)
        trial = SimpleNamespace(cfg=cfg, model=ImageDependentGuess(), val_loader=loader,
                                device=DEVICE, threshold=0.5, autocast=contextlib.nullcontext)
        return cfg, loop_module.validate_epoch(trial)

    cfg, paper = validate()
    _, release = validate("eval.protocol=release")
    probs, labels = predictions(cfg, "MOW", "val")
    assert not labels.any(dim=1).all()  # MOW's validation split has non-contact samples
    expected = contact_prf(probs, labels, 0.5, protocol="release")
    assert release["val/f1"] == pytest.approx(expected["f1"], abs=1e-12)
    assert release["val/f1"] < paper["val/f1"]
    assert release["val/best_threshold"] == paper["val/best_threshold"]


def test_regions_no_sample_touches_are_left_out_and_counted():
    nan = float("nan")
    metrics = {"val/f1": nan, "test/HIC/f1": 0.5, "test/HIC/count": 3,
               "test/HIC/palm/f1": 0.48, "test/HIC/palm/count": 2,
               "test/HIC/thumb/precision": nan, "test/HIC/thumb/f1": nan,
               "test/HIC/thumb/count": 0, "test/MOW/palm/f1": 0.1, "test/MOW/palm/count": 1}
    assert evaluate_module.without_empty_regions(metrics) == {
        "val/f1": metrics["val/f1"], "test/HIC/f1": 0.5, "test/HIC/count": 3,
        "test/HIC/palm/f1": 0.48, "test/HIC/palm/count": 2, "test/HIC/thumb/count": 0,
        "test/HIC/regions_evaluated": 1, "test/MOW/palm/f1": 0.1, "test/MOW/palm/count": 1,
        "test/MOW/regions_evaluated": 1}
