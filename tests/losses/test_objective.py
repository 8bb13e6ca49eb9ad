"""The full objective: term names, the weighted total, coarse labels inside, config errors."""

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from haco.config import load_config
from haco.losses import ReleaseSmoothLoss, SmoothLoss, build_loss, build_objective, coarse_labels
from haco.losses.vcb import VARIANTS

EPOCHS = 3


@pytest.fixture(scope="module")
def parts(hand, counts, contact_mean):
    return {"counts": counts, "contact_mean": contact_mean, "regressors": hand.regressors,
            "adjacency": hand.adjacency, "epochs": EPOCHS}


@pytest.fixture(scope="module")
def batch(level_logits, train_contacts):
    torch.manual_seed(0)
    return level_logits(torch.randn(4, 778)), torch.tensor(train_contacts[:4], dtype=torch.float32)


def test_terms_and_weighted_total(parts, batch):
    cfg = {"name": "vcb", "reg_weight": 0.3, "smooth_weight": 2.0}
    objective = build_objective(cfg, **parts)
    total, terms = objective(*batch, epoch=1)
    names = ["vcb/778", "vcb/336", "vcb/84", "vcb/21", "reg", "smooth"]
    assert list(terms) == names == objective.term_names
    main = sum(terms[n] for n in names[:4])
    assert torch.allclose(total, main + 0.3 * terms["reg"] + 2.0 * terms["smooth"])
    assert all(t.dim() == 0 and torch.isfinite(t) for t in terms.values())


def test_each_level_uses_its_counts_and_coarse_labels(parts, batch, hand, counts):
    logits, labels = batch
    objective = build_objective({"name": "vcb", "params": {"variant": "paper"}}, **parts)
    _, terms = objective(logits, labels, epoch=2)
    for level in (336, 21):
        alone = build_loss("vcb", counts=counts[level], epochs=EPOCHS, variant="paper")
        target = coarse_labels(labels, torch.as_tensor(hand.regressors[level] > 0))
        assert torch.allclose(terms[f"vcb/{level}"], alone(logits[level], target, 2))


def test_release_vcb_coarse_levels_regress_the_dense_counts(parts, batch, hand, counts):
    """The release's coarse VCB weights: R_L @ (the 778-level counts of the epoch), R_21 the
    hand's 21-point regressor (16 joints + 5 tip vertices: the release's MANO joint regressor
    up to row order, except the middle tip: vertex 444 here, 445 there). Restated plainly
    here (vertices as rows, as in the release)."""
    logits, labels = batch
    objective = build_objective({"name": "vcb", "params": {"variant": "release"}}, **parts)
    _, terms = objective(logits, labels, epoch=2)
    n = counts[778].astype(float)
    for level in (336, 84, 21):
        regressor = hand.regressors[level]
        for epoch in range(EPOCHS):
            share = 0.3 * epoch / (EPOCHS - 1)
            blended = share * n.T / n.sum(axis=0)[:, None] + (1 - share) * n.sum(axis=1) / n.sum()
            dense = np.maximum(1000 * blended, 20.0)
            dense = dense / dense.sum(axis=1, keepdims=True) * 1000
            alpha = (1 - 0.9999) / (1 - 0.9999 ** (regressor @ dense))  # (L, 2)
            expected = (alpha / alpha.sum(axis=1, keepdims=True)).T
            got = objective.mains[str(level)].weights(epoch).double().numpy()
            assert np.abs(got - expected).max() < 1e-7  # float32 storage
        alone = build_loss("vcb", counts=counts[778], epochs=EPOCHS, variant="release",
                           regressor=regressor)
        target = coarse_labels(labels, torch.as_tensor(regressor > 0))
        assert torch.equal(terms[f"vcb/{level}"], alone(logits[level], target, 2))


def test_release_smoothness_is_wired_from_the_faces(parts, batch, hand):
    logits, labels = batch
    objective = build_objective({"name": "ce", "smooth_variant": "release"}, **parts,
                                faces=hand.faces)
    assert isinstance(objective.smooth, ReleaseSmoothLoss)
    _, terms = objective(logits, labels, epoch=0)
    expected = ReleaseSmoothLoss(hand.faces, 778)(torch.sigmoid(logits[778]))
    assert torch.equal(terms["smooth"], expected)
    ours = build_objective({"name": "ce"}, **parts, faces=hand.faces)
    assert isinstance(ours.smooth, SmoothLoss)  # the default, faces or not
    assert torch.equal(ours(logits, labels, 0)[1]["smooth"],
                       SmoothLoss(hand.adjacency)(torch.sigmoid(logits[778])))
    with pytest.raises(ValueError, match="pass faces=hand.faces"):
        build_objective({"name": "ce", "smooth_variant": "release"}, **parts)
    with pytest.raises(ValueError, match=r"smooth_variant must be one of \['ours', 'release'\]"):
        build_objective({"name": "ce", "smooth_variant": "paper"}, **parts)


@pytest.mark.parametrize("fidelity", ["paper", "release"])
def test_the_train_config_builds_its_objective(parts, hand, fidelity):
    cfg = load_config("train", ["profile=smoke", "loss=vcb", f"fidelity={fidelity}"])
    objective = build_objective(cfg.loss, **parts, faces=hand.faces)
    release = fidelity == "release"
    assert isinstance(objective.smooth, ReleaseSmoothLoss if release else SmoothLoss)
    assert all(loss.variant == VARIANTS[fidelity] for loss in objective.mains.values())
    assert (objective.mains["336"].regressor is not None) == release


def test_default_weights_and_level_subset(parts, batch):
    objective = build_objective({"name": "ce", "levels": [778, 21]}, **parts)
    total, terms = objective(*batch, epoch=0)
    assert list(terms) == ["ce/778", "ce/21", "reg", "smooth"]
    expected = terms["ce/778"] + terms["ce/21"] + 0.1 * terms["reg"] + terms["smooth"]
    assert torch.allclose(total, expected)


def test_backward_and_buffers(parts, batch):
    objective = build_objective(OmegaConf.create({"name": "cb_focal"}), **parts)
    z = batch[0][778].clone().requires_grad_()
    logits = {778: z, **{k: v for k, v in batch[0].items() if k != 778}}
    objective(logits, batch[1], epoch=0)[0].backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    assert not list(objective.parameters())  # all state in buffers: .to(device) moves it
    buffers = dict(objective.named_buffers())
    assert {"membership_336", "membership_84", "membership_21", "reg.contact_mean"} <= set(buffers)


def test_unknown_loss_lists_known(parts):
    with pytest.raises(KeyError, match="unknown loss 'vbc'; known: ce, l1"):
        build_objective({"name": "vbc"}, **parts)


def test_unknown_hyperparameter_is_named(parts):
    with pytest.raises(TypeError, match=r"'cb'.*\['gamma'\].*accepted: \['beta', 'count_total'\]"):
        build_objective({"name": "cb", "params": {"gamma": 2.0}}, **parts)


def test_bad_config_keys_and_levels(parts):
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['reg_weigth'\]"):
        build_objective({"name": "ce", "reg_weigth": 0.1}, **parts)
    with pytest.raises(ValueError, match="needs a `name`"):
        build_objective({"levels": [778]}, **parts)
    with pytest.raises(ValueError, match=r"levels \[100\] have no regressor"):
        build_objective({"name": "ce", "levels": [778, 100]}, **parts)
    with pytest.raises(ValueError, match="needs class counts for level 336"):
        build_objective({"name": "vcb"}, **{**parts, "counts": {778: parts["counts"][778]}})


def test_missing_level_in_logits(parts, batch):
    objective = build_objective({"name": "l1"}, **parts)
    logits = {k: v for k, v in batch[0].items() if k != 84}
    with pytest.raises(KeyError, match=r"levels \[84\]"):
        objective(logits, batch[1], epoch=0)


def test_count_free_losses_need_no_counts(parts, batch):
    objective = build_objective({"name": "poly"}, **{**parts, "counts": None})
    assert np.isfinite(objective(*batch, epoch=0)[0].item())


def test_moves_with_to(parts, batch):
    """Every tensor is a buffer: after .to(device) nothing is left on the CPU."""
    objective = build_objective({"name": "vcb"}, **parts).to("meta")
    logits = {level: z.to("meta") for level, z in batch[0].items()}
    total, terms = objective(logits, batch[1].to("meta"), epoch=1)
    assert total.device.type == "meta" and terms["smooth"].device.type == "meta"
