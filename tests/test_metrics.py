"""haco.metrics: the paper's per-sample P/R/F1 protocol, worked by hand and against a loop.

The hand-made example (6 vertices, threshold 0.5; `>=` so 0.5 itself is a prediction):
  A: labels 1 1 0 0 0 0, predicted 1 0 1 0 0 0 -> TP 1 of 2 predicted, 2 labelled:
     P 1/2, R 1/2, F1 1/2
  B: labels 0 1 1 1 1 0, predicted 0 0 1 1 1 0 -> TP 3 of 3 predicted, 4 labelled:
     P 1, R 3/4, F1 6/7
  C: no contact label -> skipped, whatever is predicted.
  Means over A and B: P 3/4, R 5/8, F1 19/28.
At 0.75: A predicts vertex 0 only (P 1, R 1/2, F1 2/3); B vertex 3 only (P 1, R 1/4, F1 2/5):
means P 1, R 3/8, F1 8/15.
The release's protocol averages A, B and C, C's undefined values as 0: P 1/2, R 5/12,
F1 19/42 at 0.5.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from haco.hand import load_hand
from haco.metrics import (
    DECISION_THRESHOLDS,
    PROTOCOLS,
    SWEEP_THRESHOLDS,
    ContactMeter,
    contact_prf,
    decision_threshold,
    per_sample_prf,
    region_prf,
    threshold_sweep,
)

PROBS = torch.tensor([
    [0.9, 0.4, 0.6, 0.1, 0.2, 0.0],  # A
    [0.1, 0.2, 0.7, 0.8, 0.5, 0.3],  # B
    [0.9, 0.9, 0.1, 0.1, 0.1, 0.1],  # C
])
LABELS = torch.tensor([
    [1, 1, 0, 0, 0, 0],
    [0, 1, 1, 1, 1, 0],
    [0, 0, 0, 0, 0, 0],
])
TINY_REGIONS = {"front": [0, 1, 2], "back": [3, 4, 5], "never": [5]}


def approx(x):
    return pytest.approx(x, abs=1e-12)


def near(x):
    """Agreement with the release, whose recall is computed in float32 (about 6e-8 relative
    error per sample): 1e-6 absolute, still far below any difference a table shows."""
    return pytest.approx(x, abs=1e-6)


def random_batch(n, v=778, seed=0, p_empty=0.3):
    """Random probabilities and sparse labels; about `p_empty` of the samples contact-free."""
    g = torch.Generator().manual_seed(seed)
    probs = torch.rand(n, v, generator=g)
    labels = torch.rand(n, v, generator=g) < 0.1
    labels[torch.rand(n, generator=g) < p_empty] = False
    return probs, labels


def reference_prf(probs, labels, threshold):
    """Plain-Python per-sample loop of the protocol, for one threshold."""
    rows = []
    for p, y in zip(probs.tolist(), labels.tolist()):
        pred = [q >= threshold for q in p]
        tp = sum(a and b for a, b in zip(pred, y))
        if not any(y):
            continue
        prec = tp / sum(pred) if any(pred) else 0.0
        rec = tp / sum(y)
        rows.append((prec, rec, 2 * prec * rec / (prec + rec) if prec + rec else 0.0))
    return [sum(col) / len(rows) for col in zip(*rows)], len(rows)


def test_hand_worked_example():
    precision, recall, f1, counted = per_sample_prf(PROBS, LABELS)
    assert counted.tolist() == [True, True, False]
    assert precision[:2].tolist() == approx([0.5, 1.0])
    assert recall[:2].tolist() == approx([0.5, 0.75])
    assert f1[:2].tolist() == approx([0.5, 6 / 7])
    out = contact_prf(PROBS, LABELS)
    assert out == {"precision": approx(0.75), "recall": approx(0.625),
                   "f1": approx(19 / 28), "count": 2}
    high = contact_prf(PROBS, LABELS, threshold=0.75)
    assert high == {"precision": approx(1.0), "recall": approx(0.375),
                    "f1": approx(8 / 15), "count": 2}


def test_non_contact_samples_do_not_move_the_means():
    without_c = contact_prf(PROBS[:2], LABELS[:2])
    assert contact_prf(PROBS, LABELS) == without_c
    # C predicting nothing at all changes nothing either.
    quiet = PROBS.clone()
    quiet[2] = 0.0
    assert contact_prf(quiet, LABELS) == without_c


def test_predicting_nothing_scores_zero():
    labels = torch.tensor([[1, 0, 1, 0]])
    precision, recall, f1, counted = per_sample_prf(torch.zeros(1, 4), labels)
    assert counted.tolist() == [True]
    assert (precision.item(), recall.item(), f1.item()) == (0.0, 0.0, 0.0)


def test_disjoint_prediction_scores_zero_f1():
    out = contact_prf(torch.tensor([[0.0, 1.0, 0.0, 1.0]]), torch.tensor([[1, 0, 1, 0]]))
    assert out == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "count": 1}


def test_perfect_prediction_scores_one():
    labels = random_batch(16, p_empty=0.0)[1]
    out = contact_prf(labels.float(), labels)
    assert out == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "count": 16}


def test_nan_when_nothing_counted():
    out = contact_prf(torch.rand(3, 10), torch.zeros(3, 10))
    assert out["count"] == 0 and all(math.isnan(out[k]) for k in ("precision", "recall", "f1"))
    meter = ContactMeter(thresholds=(0.5, 0.7))
    meter.update(torch.rand(3, 10), torch.zeros(3, 10))
    assert meter.compute()["count"] == 0 and math.isnan(meter.compute()["f1"])
    assert meter.best_threshold() == 0.5  # nothing to choose from: the main threshold


def test_matches_plain_loop_reference():
    probs, labels = random_batch(40, v=50, seed=1)
    for threshold in (0.3, 0.5, 0.9):
        (p, r, f), count = reference_prf(probs, labels, threshold)
        out = contact_prf(probs, labels, threshold)
        assert out["count"] == count
        assert (out["precision"], out["recall"], out["f1"]) == (approx(p), approx(r), approx(f))


def test_several_thresholds_equal_separate_calls():
    probs, labels = random_batch(12, seed=2)
    # Include a probability exactly at a threshold: >= must agree in both paths.
    probs[0, :5] = torch.tensor(0.55)
    thresholds = [0.2, 0.5, 0.55, 0.95]
    precision, recall, f1, counted = per_sample_prf(probs, labels, torch.tensor(thresholds))
    assert precision.shape == (4, 12) and counted.shape == (12,)
    for i, t in enumerate(thresholds):
        one = per_sample_prf(probs, labels, t)
        assert torch.equal(precision[i], one[0]) and torch.equal(recall[i], one[1])
        assert torch.equal(f1[i], one[2]) and torch.equal(counted, one[3])
    sweep = threshold_sweep(probs, labels, thresholds)
    for row, t in zip(sweep, thresholds):
        single = contact_prf(probs, labels, t)
        assert row == {"threshold": t, **{k: single[k] for k in ("precision", "recall", "f1")}}


def test_default_sweep_grid():
    assert SWEEP_THRESHOLDS[0] == 0.05 and SWEEP_THRESHOLDS[-1] == 0.95
    assert len(SWEEP_THRESHOLDS) == 19
    rows = threshold_sweep(*random_batch(4, seed=3))
    assert [r["threshold"] for r in rows] == list(SWEEP_THRESHOLDS)


def test_region_metrics_by_hand():
    out = region_prf(PROBS, LABELS, TINY_REGIONS)
    # front: A labels 110 / pred 101 -> 1/2,1/2,1/2; B labels 011 / pred 001 -> 1,1/2,2/3.
    assert out["front"] == {"precision": approx(0.75), "recall": approx(0.5),
                            "f1": approx(7 / 12), "count": 2}
    # back: only B has contact there (labels 110, pred 110) -> perfect, one sample.
    assert out["back"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "count": 1}
    assert out["never"]["count"] == 0 and math.isnan(out["never"]["f1"])


def test_region_metrics_on_the_hand():
    regions = load_hand().regions
    probs, labels = random_batch(20, seed=4)
    out = region_prf(probs, labels, regions)
    assert list(out) == list(regions)
    for name, idx in regions.items():
        assert out[name] == contact_prf(probs[:, idx], labels[:, idx])


def test_streaming_equals_one_shot_exactly():
    regions = load_hand().regions
    probs, labels = random_batch(101, seed=5)
    thresholds = (0.5, 0.3, 0.7, 0.9)
    meter = ContactMeter(thresholds=thresholds, regions=regions)
    sizes, start = [1, 7, 30, 2, 13, 0, 48], 0
    assert sum(sizes) == 101
    for size in sizes:
        meter.update(probs[start:start + size], labels[start:start + size])
        start += size

    got = meter.compute()
    assert {k: got[k] for k in ("precision", "recall", "f1", "count")} == contact_prf(probs, labels)
    for name, expected in region_prf(probs, labels, regions).items():
        assert {k: got[f"{name}/{k}"] for k in expected} == expected
    assert meter.sweep() == threshold_sweep(probs, labels, thresholds)


def test_streaming_order_does_not_matter():
    probs, labels = random_batch(64, v=100, seed=6)
    one_shot = contact_prf(probs, labels)
    order = list(range(64))
    random.Random(0).shuffle(order)
    meter = ContactMeter()
    for chunk in (order[:5], order[5:6], order[6:40], order[40:]):
        meter.update(probs[chunk], labels[chunk])
    assert {k: meter.compute()[k] for k in one_shot} == one_shot


def test_meter_keeps_sums_not_batches():
    meter = ContactMeter(thresholds=(0.5, 0.6), regions={"a": [0, 1]})
    for seed in range(30):
        meter.update(*random_batch(8, v=20, seed=seed))
    partials = [len(s.partials) for m in meter._by_threshold for s in m.sums.values()]
    assert max(partials) < 10  # bounded by float range, not by the number of batches


def test_meter_detaches_and_picks_best_threshold():
    probs = PROBS.clone().requires_grad_(True)
    meter = ContactMeter(thresholds=(0.75, 0.5))
    meter.update(probs, LABELS)
    assert meter.compute()["f1"] == approx(8 / 15)  # at the main (first) threshold
    assert [r["threshold"] for r in meter.sweep()] == [0.75, 0.5]
    assert [r["f1"] for r in meter.sweep()] == [approx(8 / 15), approx(19 / 28)]
    assert meter.best_threshold() == 0.5
    meter.reset()
    assert meter.compute()["count"] == 0


def test_numpy_input_accepted():
    probs, labels = random_batch(10, seed=7)
    expected = contact_prf(probs, labels)
    assert contact_prf(probs.numpy(), labels.numpy()) == expected
    assert contact_prf(probs.double().numpy(), labels.numpy().astype(np.float32)) == expected
    meter = ContactMeter()
    meter.update(probs.numpy(), labels.numpy())
    assert {k: meter.compute()[k] for k in expected} == expected


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="must both be"):
        per_sample_prf(torch.rand(2, 5), torch.zeros(2, 6))


def test_decision_thresholds():
    backbones = ["vit-h", "vit-l-16", "vit-b-16", "vit-s-16", "fpn", "hrnet-w48", "hrnet-w32",
                 "resnet-152", "resnet-101", "resnet-50", "resnet-34", "resnet-18"]
    assert set(DECISION_THRESHOLDS) == set(backbones)
    special = {"vit-l-16": 0.55, "resnet-152": 0.55, "fpn": 0.95}
    for name in backbones:
        assert decision_threshold(name) == special.get(name, 0.5)
    assert decision_threshold("tiny-cpu") == 0.5


# --- the release's protocol: every sample averaged, undefined values as 0 ----------------

def release_reference(probs, labels, threshold):
    """The release's `compute_contact_metrics` per sample (numpy, float32 sigmoid outputs
    and labels, None where undefined) and `test.py`'s average over every sample, None
    counted as 0. Its float32 labels make recall a float32 division (TP and #labelled are
    float32 sums), so its figures carry float32 rounding: compare at `near` (1e-6)."""
    values = {"precision": [], "recall": [], "f1": []}
    for pred, gt in zip(probs.float().numpy(), labels.float().numpy()):
        tp = np.sum(gt[pred >= threshold])
        n_pred, n_gt = np.sum(pred >= threshold), np.sum(gt)
        p = tp / n_pred if n_pred > 0 else None
        r = tp / n_gt if n_gt > 0 else None
        f = 2 * p * r / (p + r) if p is not None and r is not None and (p + r) > 0 else None
        for name, x in zip(values, (p, r, f)):
            values[name].append(x)
    return {k: float(np.mean([x if x is not None else 0.0 for x in v]))
            for k, v in values.items()}


def release_batch():
    """random_batch plus the undefined cases: nothing predicted (with and without contact
    labels) and a non-contact sample with predictions."""
    probs, labels = random_batch(40, v=50, seed=1)
    probs[0], labels[0, :3] = 0.0, True  # contact, nothing predicted: P undefined
    probs[1], labels[1] = 0.0, False  # nothing at all: all three undefined
    probs[2], labels[2] = 0.95, False  # predictions without contact: R, F1 undefined
    return probs, labels


def test_release_protocol_matches_the_release():
    probs, labels = release_batch()
    assert 0 < int(labels.any(dim=1).sum()) < len(labels)
    for threshold in (0.3, 0.5, 0.55, 0.9):
        expected = release_reference(probs, labels, threshold)
        out = contact_prf(probs, labels, threshold, protocol="release")
        assert out["count"] == len(labels)
        assert {k: out[k] for k in expected} == {k: near(v) for k, v in expected.items()}
        paper = contact_prf(probs, labels, threshold)
        assert paper["f1"] != approx(out["f1"])  # the non-contact samples make a difference


def test_release_protocol_by_hand():
    out = contact_prf(PROBS, LABELS, protocol="release")
    assert out == {"precision": approx(0.5), "recall": approx(5 / 12),
                   "f1": approx(19 / 42), "count": 3}


def test_release_protocol_is_the_papers_times_the_contact_share():
    probs, labels = release_batch()
    paper = contact_prf(probs, labels)
    release = contact_prf(probs, labels, protocol="release")
    share = paper["count"] / release["count"]
    for k in ("precision", "recall", "f1"):
        assert release[k] == approx(paper[k] * share)


def test_protocols_agree_bit_for_bit_when_every_sample_has_contact():
    probs, labels = random_batch(30, v=60, seed=3, p_empty=0.0)
    assert labels.any(dim=1).all()
    for threshold in (0.5, 0.8):
        paper = contact_prf(probs, labels, threshold)
        assert contact_prf(probs, labels, threshold, protocol="release") == paper
        expected = release_reference(probs, labels, threshold)
        assert {k: paper[k] for k in expected} == {k: near(v) for k, v in expected.items()}


def test_release_meter_streams_like_one_shot_and_keeps_regions_on_the_paper_rule():
    regions = load_hand().regions
    probs, labels = random_batch(61, seed=8)
    thresholds = (0.5, 0.3, 0.7)
    meter = ContactMeter(thresholds=thresholds, regions=regions, protocol="release")
    paper_meter = ContactMeter(thresholds=thresholds, regions=regions)
    for chunk in (slice(0, 9), slice(9, 10), slice(10, 61)):
        meter.update(probs[chunk], labels[chunk])
        paper_meter.update(probs[chunk], labels[chunk])
    got, paper = meter.compute(), paper_meter.compute()
    whole = contact_prf(probs, labels, protocol="release")
    assert {k: got[k] for k in whole} == whole and whole["count"] == 61
    assert meter.sweep() == threshold_sweep(probs, labels, thresholds, protocol="release")
    for name, expected in region_prf(probs, labels, regions).items():
        assert {k: got[f"{name}/{k}"] for k in expected} == expected
        assert {k: paper[f"{name}/{k}"] for k in expected} == expected
    # A non-contact sample adds 0 at every threshold: the best one does not move.
    assert meter.best_threshold() == paper_meter.best_threshold()


def test_an_unknown_protocol_is_refused():
    assert PROTOCOLS == ("paper", "release")
    with pytest.raises(ValueError, match="eval.protocol"):
        contact_prf(PROBS, LABELS, protocol="released")
    with pytest.raises(ValueError, match="eval.protocol"):
        ContactMeter(protocol="Paper")
