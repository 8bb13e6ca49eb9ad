"""The ten main losses against plain element-wise references, gradients and pinned values."""

import math

import numpy as np
import pytest
import torch

from haco.losses import LOSSES, build_loss, loss_params

# tiny case: B=2 samples, L=3 vertices; counts[y][v] = training count of class y at vertex v
Z = [[-1.2, 0.3, 2.0], [0.7, -0.4, -2.5]]
Y = [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]
COUNTS = [[900.0, 500.0, 990.0], [100.0, 500.0, 10.0]]
NAMES = ("ce", "l1", "l2", "focal", "cb", "cb_focal", "ldam", "asl", "poly", "vcb")


def sig(z):
    return 1.0 / (1.0 + math.exp(-z))


def bce(z, y):
    p = sig(z)
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def p_t(z, y):
    return sig(z) if y else 1 - sig(z)


def cb_alpha(n, beta=0.9999, total=1000.0):
    n = [total * k / sum(n) for k in n] if total else n
    raw = [(1 - beta) / (1 - beta ** max(k, 1.0)) for k in n]
    return [2 * a / sum(raw) for a in raw]


GLOBAL = [sum(COUNTS[0]), sum(COUNTS[1])]


def ldam_shift(y):
    m = [n ** -0.25 for n in GLOBAL]
    m = [0.5 * k / max(m) for k in m]
    return -m[1] if y else m[0]


def asl(z, y, gn=4.0, gp=1.0, clip=0.05):
    p = sig(z)
    if y:
        return -((1 - p) ** gp) * math.log(max(p, 1e-8))
    pm = max(p - clip, 0.0)
    return -(pm ** gn) * math.log(max(1 - pm, 1e-8))


REFERENCE = {  # element-wise l(z, y, v), written out from each paper's formula
    "ce": lambda z, y, v: bce(z, y),
    "l1": lambda z, y, v: abs(sig(z) - y),
    "l2": lambda z, y, v: (sig(z) - y) ** 2,
    "focal": lambda z, y, v: (0.25 if y else 0.75) * (1 - p_t(z, y)) ** 2 * bce(z, y),
    "cb": lambda z, y, v: cb_alpha(GLOBAL)[int(y)] * bce(z, y),
    "cb_focal": lambda z, y, v: cb_alpha(GLOBAL)[int(y)] * (1 - p_t(z, y)) ** 2 * bce(z, y),
    "ldam": lambda z, y, v: bce(z + ldam_shift(y), y),
    "asl": lambda z, y, v: asl(z, y),
    "poly": lambda z, y, v: bce(z, y) + 1.0 * (1 - p_t(z, y)),
    # epochs=1: the VCB blend is complete, pure per-vertex weights
    "vcb": lambda z, y, v: cb_alpha([COUNTS[0][v], COUNTS[1][v]])[int(y)] * bce(z, y),
}

# computed once with the implementation (float32) after checking it against REFERENCE
PINNED = {
    "ce": 1.1066094637, "l1": 0.5759686828, "l2": 0.3993980885, "focal": 0.2349918336,
    "cb": 1.2718547583, "cb_focal": 0.8694137931, "ldam": 1.3694213629, "asl": 0.6210653186,
    "poly": 1.6825782061, "vcb": 1.5956927538,
}


def reference(name, z=Z, y=Y):
    values = [REFERENCE[name](z[b][v], y[b][v], v) for b in range(len(z)) for v in range(len(z[0]))]
    return sum(values) / len(values)


def build(name, epochs=1, **params):
    return build_loss(name, counts=np.array(COUNTS), epochs=epochs, **params)


def value(loss, z=Z, y=Y, epoch=0):
    return loss(torch.tensor(z), torch.tensor(y), epoch).item()


def test_registry_holds_the_ten_losses_in_table_order():
    assert tuple(LOSSES) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_matches_plain_reference(name):
    assert value(build(name)) == pytest.approx(reference(name), rel=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_pinned_values(name):
    assert value(build(name)) == pytest.approx(PINNED[name], rel=1e-6)


def test_focal_negative_alpha_disables_weighting():
    expected = np.mean([(1 - p_t(z, y)) ** 2 * bce(z, y) for zr, yr in zip(Z, Y)
                        for z, y in zip(zr, yr)])
    assert value(build("focal", alpha=-1.0)) == pytest.approx(expected, rel=1e-5)


def test_ldam_scale_multiplies_shifted_logits():
    expected = np.mean([bce(3.0 * (z + ldam_shift(y)), y) for zr, yr in zip(Z, Y)
                        for z, y in zip(zr, yr)])
    assert value(build("ldam", s=3.0)) == pytest.approx(expected, rel=1e-5)


VARIANTS = [(n, {}) for n in NAMES] + [
    ("focal", {"alpha": -1.0}), ("vcb", {"variant": "release"}), ("vcb", {"progressive": False}),
    ("cb", {"count_total": None}), ("ldam", {"s": 30.0}),
]


@pytest.mark.parametrize(("name", "params"), VARIANTS)
def test_gradients_are_finite_and_push_logits_toward_labels(name, params):
    torch.manual_seed(0)
    z = (torch.rand(4, 3) * 2 - 1).requires_grad_()  # p in (0.27, 0.73): above ASL's clip
    y = torch.tensor([[1.0, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    build(name, epochs=3, **params)(z, y, 1).backward()
    assert torch.isfinite(z.grad).all()
    assert (z.grad[y == 1] < 0).all() and (z.grad[y == 0] > 0).all()


@pytest.mark.parametrize("name", NAMES)
def test_extreme_logits_stay_finite(name):
    z = torch.tensor([[-80.0, 80.0, 0.0], [80.0, -80.0, 1e-3]], requires_grad=True)
    loss = build(name)(z, torch.tensor(Y))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()


def test_unknown_hyperparameter_names_loss_key_and_accepted():
    with pytest.raises(TypeError, match=r"'focal'.*\['gama'\].*gamma.*alpha"):
        build("focal", gama=2.0)
    assert loss_params("vcb") == ["beta", "count_total", "progressive", "variant"]


@pytest.mark.parametrize("name", ["cb", "cb_focal", "ldam", "vcb"])
def test_count_losses_need_counts_of_the_right_shape(name):
    with pytest.raises(ValueError, match="counts"):
        build_loss(name)
    with pytest.raises(ValueError, match=r"\(2, L\)"):
        build_loss(name, counts=np.ones(3))
    with pytest.raises(ValueError, match="built for L=3"):
        build(name)(torch.zeros(2, 4), torch.zeros(2, 4))


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"\(B, L\)"):
        build("ce")(torch.zeros(2, 3), torch.zeros(3, 2))


def test_cb_count_total_avoids_the_effective_number_pitfall():
    raw = np.array([[9.0e5], [1.0e5]])  # a paper-sized dataset: every 1 - beta^n == 1
    flat = build_loss("cb", counts=raw, count_total=None).class_weights
    scaled = build_loss("cb", counts=raw, count_total=1000).class_weights
    assert torch.allclose(flat, torch.ones(2), atol=1e-4)
    assert scaled[1] / scaled[0] > 5  # 900 vs 100 effective samples: contact weighs far more
    small = build_loss("cb", counts=raw / 300, count_total=1000).class_weights
    assert torch.allclose(small, scaled)  # same frequencies, same weights, whatever the size


def test_count_of_zero_is_clamped():
    weights = build_loss("cb", counts=np.array([[50.0], [0.0]]), count_total=None).class_weights
    assert torch.isfinite(weights).all() and weights[1] > weights[0]
