"""VCB: the progressive CB -> VCB schedule, the release variant and count scaling."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from haco.losses import build_loss

# 4 vertices: fingertip-like (often in contact), dorsal (never), balanced, rare
COUNTS = np.array([[300.0, 1000.0, 500.0, 950.0], [700.0, 0.0, 500.0, 50.0]])
EPOCHS = 5


def vcb(**params):
    return build_loss("vcb", counts=COUNTS, epochs=EPOCHS, **params)


@pytest.fixture(scope="module")
def batch():
    torch.manual_seed(0)
    return torch.randn(6, 4), (torch.rand(6, 4) < 0.5).float()


def test_epoch_zero_is_exactly_global_cb(batch):
    z, y = batch
    cb = build_loss("cb", counts=COUNTS)
    assert torch.equal(vcb().weights(0), cb.class_weights[:, None].expand(2, 4))
    assert torch.equal(vcb()(z, y, 0), cb(z, y))


def test_last_epoch_is_pure_vertex_level(batch):
    z, y = batch
    pure = vcb(progressive=False)
    assert torch.allclose(vcb().weights(EPOCHS - 1), pure.weights(0))
    assert torch.allclose(vcb()(z, y, EPOCHS - 1), pure(z, y, 0))
    assert torch.equal(vcb().weights(99), vcb().weights(EPOCHS - 1))  # past the end: the last


def test_blend_is_linear_in_epoch():
    loss = vcb()
    assert [loss.blend(e) for e in range(EPOCHS)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    mid = 0.5 * loss.weights(0) + 0.5 * loss.weights(EPOCHS - 1)
    assert torch.allclose(loss.weights(2), mid)
    assert build_loss("vcb", counts=COUNTS, epochs=1).blend(0) == 1.0


def test_vertex_weights_follow_local_frequency():
    alpha = vcb(progressive=False).weights(0)
    assert torch.allclose(alpha.sum(dim=0), torch.full((4,), 2.0))  # CB normalisation per vertex
    assert alpha[1, 3] > alpha[0, 3]  # rare contact at vertex 3 weighs more than its non-contact
    assert alpha[0, 0] > alpha[1, 0]  # at a fingertip, non-contact is the rare class
    assert torch.allclose(alpha[:, 2], torch.ones(2))  # balanced vertex: equal weights
    assert torch.isfinite(alpha).all()  # vertex 1 never in contact: n = 0 is clamped


def test_release_variant_caps_blend_and_blends_counts():
    loss = vcb(variant="release")
    assert [loss.blend(e) for e in range(EPOCHS)] == pytest.approx([0, 0.075, 0.15, 0.225, 0.3])
    share = COUNTS / COUNTS.sum(axis=0) * 1000
    glob = COUNTS.sum(axis=1, keepdims=True) / COUNTS.sum() * 1000
    n = np.maximum(0.3 * share + 0.7 * glob, 20.0)
    n = n / n.sum(axis=0) * 1000
    alpha = (1 - 0.9999) / (1 - 0.9999 ** n)
    expected = alpha / alpha.sum(axis=0)  # the released code normalises each vertex to 1
    assert np.allclose(loss.weights(EPOCHS - 1).numpy(), expected, rtol=1e-6)


def release_counts(counts, epoch, epochs, total=1000.0):
    """The released code's per-epoch vertex counts (V, 2), restated plainly (vertices as rows
    there): rescaled, blended with the global counts, clamped at 20, rescaled again."""
    per_vertex = counts.T / counts.T.sum(axis=1, keepdims=True) * total
    overall = counts.sum(axis=1) / counts.sum() * total
    share = 0.3 * epoch / (epochs - 1)
    n = np.maximum(share * per_vertex + (1 - share) * overall, 20.0)
    return n / n.sum(axis=1, keepdims=True) * total  # no clamp after this


def release_class_weights(n, beta=0.9999):
    """(V, 2) counts -> (2, V) weights: effective numbers, each vertex normalised to 1."""
    alpha = (1 - beta) / (1 - beta ** n)
    return (alpha / alpha.sum(axis=1, keepdims=True)).T


def release_weights(counts, epoch, epochs):
    return release_class_weights(release_counts(counts, epoch, epochs))


def test_release_variant_keeps_rescaled_counts_below_the_clamp():
    """Contact at 1% of vertices: the clamp at 20 is active, and the rescaled contact count
    (20 * 1000 / 1010 = 19.8) is used as it is, as in the release."""
    rare = np.array([[995.0, 1000.0, 980.0, 985.0], [5.0, 0.0, 20.0, 15.0]])
    loss = build_loss("vcb", counts=rare, epochs=EPOCHS, variant="release")
    for epoch in (0, EPOCHS - 1):
        expected = release_weights(rare, epoch, EPOCHS)
        assert np.abs(loss.epoch_weights.double()[epoch].numpy() - expected).max() < 1e-7
        assert np.abs(loss._weights(rare, epoch) - expected).max() < 1e-12


def test_release_variant_adds_false_positive_penalty(batch):
    z, y = batch
    loss = vcb(variant="release")
    weighted = (loss.weights(3)[1] * y + loss.weights(3)[0] * (1 - y))
    base = (weighted * release_bce(z, y)).mean()
    penalty = ((1 - y) * torch.sigmoid(z)).mean()
    assert torch.allclose(loss(z, y, 3), base + 0.5 * penalty)
    assert penalty > 0


def test_count_total_avoids_the_effective_number_pitfall():
    raw = COUNTS * 2000  # ~1e6 per vertex, like the paper's 655K samples
    flat = build_loss("vcb", counts=raw, count_total=None, progressive=False).weights(0)
    scaled = build_loss("vcb", counts=raw, progressive=False).weights(0)
    assert torch.allclose(flat[:, [0, 2, 3]], torch.ones(2, 3), atol=1e-4)  # all ~1: plain BCE
    assert torch.allclose(scaled, vcb(progressive=False).weights(0))  # size-independent


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="variant"):
        vcb(variant="papr")
    with pytest.raises(ValueError, match="count_total"):
        vcb(variant="release", count_total=None)
    with pytest.raises(ValueError, match="epochs"):
        build_loss("vcb", counts=COUNTS, epochs=0)
    with pytest.raises(ValueError, match="beta"):
        vcb(beta=1.0)


# A 2-row coarse level over the 4 vertices of COUNTS (rows sum to 1, like the hand's regressors)
REGRESSOR = np.array([[0.5, 0.5, 0.0, 0.0], [0.0, 0.1, 0.3, 0.6]])


@pytest.mark.parametrize("counts", [COUNTS, np.array([[995.0, 1000.0, 980.0, 985.0],
                                                      [5.0, 0.0, 20.0, 15.0]])])
def test_release_coarse_level_weights_come_from_regressed_dense_counts(counts):
    """The release's v_type levels: R @ (the 778-level counts of the epoch), then weights.
    The release computes in float32; we compare with our float64 table at 1e-12 and with
    the float32 buffer at 1e-7 (its rounding)."""
    loss = build_loss("vcb", counts=counts, epochs=EPOCHS, variant="release", regressor=REGRESSOR)
    assert loss.size == 2
    for epoch in range(EPOCHS):
        expected = release_class_weights(REGRESSOR @ release_counts(counts, epoch, EPOCHS))
        assert np.abs(loss._weights(counts, epoch) - expected).max() < 1e-12
        assert np.abs(loss.weights(epoch).double().numpy() - expected).max() < 1e-7
    own = build_loss("vcb", counts=counts @ (REGRESSOR > 0).T, epochs=EPOCHS, variant="release")
    assert not torch.allclose(own.weights(EPOCHS - 1), loss.weights(EPOCHS - 1))


def test_regressor_is_for_the_release_variant_and_must_fit():
    with pytest.raises(ValueError, match="release variant only"):
        vcb(regressor=REGRESSOR)
    with pytest.raises(ValueError, match=r"regressor must be \(L, 4\)"):
        vcb(variant="release", regressor=REGRESSOR[:, :3])
    loss = vcb(variant="release", regressor=REGRESSOR)
    with pytest.raises(ValueError, match="built for L=2"):
        loss(torch.zeros(1, 4), torch.zeros(1, 4))
    assert loss(torch.zeros(1, 2), torch.zeros(1, 2)).isfinite()


def release_bce(logits, labels):
    """nn.BCELoss(reduction='none') on float32 sigmoid outputs, written out: each log is
    clamped at -100, so a saturated wrong prediction costs exactly 100."""
    p = torch.sigmoid(logits.float())
    log_p, log_not_p = torch.log(p).clamp(min=-100), torch.log(1 - p).clamp(min=-100)
    return -(labels * log_p + (1 - labels) * log_not_p)


def test_release_bce_is_on_probabilities_with_the_log_clamp():
    torch.manual_seed(1)
    z = torch.randn(4, 4) * 3
    y = (torch.rand(4, 4) < 0.5).float()
    # saturated: float32 rounds sigmoid(30) to 1 and sigmoid(-200) to 0, so a wrong label
    # hits the clamp: 100, where the logits give 30 and 200. sigmoid(-30) ~ 1e-13 is still
    # representable (cost 30, no clamp); a right saturated prediction costs 0.
    z[0] = torch.tensor([30.0, -30.0, -200.0, 30.0])
    y[0] = torch.tensor([0.0, 1.0, 1.0, 1.0])
    loss = vcb(variant="release")
    for epoch in (0, EPOCHS - 1):
        weighted = loss.weights(epoch)[1] * y + loss.weights(epoch)[0] * (1 - y)
        penalty = ((1 - y) * torch.sigmoid(z)).mean()
        expected = (weighted * release_bce(z, y)).mean() + 0.5 * penalty
        torch.testing.assert_close(loss(z, y, epoch), expected, rtol=1e-6, atol=0.0)
    assert release_bce(z, y)[0].tolist() == pytest.approx([100.0, 30.0, 100.0, 0.0])
    from_logits = F.binary_cross_entropy_with_logits(z[0], y[0], reduction="none")
    assert from_logits.tolist() == pytest.approx([30.0, 30.0, 200.0, 0.0], abs=1e-6)


def test_paper_variant_keeps_bce_with_logits():
    z = torch.tensor([[30.0, -2.0, 0.5, 200.0]])
    y = torch.tensor([[0.0, 1.0, 0.0, 0.0]])
    loss = vcb()
    expected = (loss.weights(0)[1] * y + loss.weights(0)[0] * (1 - y)) * \
        F.binary_cross_entropy_with_logits(z, y, reduction="none")
    torch.testing.assert_close(loss(z, y, 0), expected.mean(), rtol=1e-6, atol=0.0)
