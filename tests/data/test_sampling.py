"""Balanced Contact Sampling (paper section 3.2) against plain references on tiny arrays."""

import itertools
import math

import numpy as np
import pytest

from haco.data import sampling
from haco.data.sampling import (
    assign_bins,
    balanced_indices,
    bin_report,
    contact_balance_scores,
    contact_mean,
    log_bin_edges,
)


def _random_contacts(n=60, v=20, p=0.2, seed=0):
    return np.random.default_rng(seed).random((n, v)) < p


def _two_clusters(n_zero=90, n_full=10, v=10):
    """Rows with no contact (score 0) and fully-in-contact rows (score 1 − 2·10% = 0.8):
    with K = 5, β = 5 the edges are 0, .31, .49, .62, .72, .8, so bins 1-3 stay empty."""
    return np.vstack([np.zeros((n_zero, v), bool), np.ones((n_full, v), bool)])


def _skewed_contacts(v=60, seed=0):
    """Most rows touch 1-3 fingertip vertices, a few touch 20-40, some touch nothing."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(900):
        row = np.zeros(v, bool)
        row[rng.choice(5, rng.integers(1, 4), replace=False)] = True
        rows.append(row)
    for _ in range(40):
        row = np.zeros(v, bool)
        row[rng.choice(v, rng.integers(20, 41), replace=False)] = True
        rows.append(row)
    rows += [np.zeros(v, bool)] * 60
    return np.array(rows)


def _bins_of(contacts, bins=5, beta=5.0, include_non_contact=True):
    """Reference binning from the public building blocks: row index -> bin."""
    scores = contact_balance_scores(contacts)
    rows = np.arange(len(contacts))
    if not include_non_contact:
        rows = rows[contacts.any(axis=1)]
    edges = log_bin_edges(scores[rows].min(), scores[rows].max(), bins, beta)
    return dict(zip(rows.tolist(), assign_bins(scores[rows], edges).tolist()))


# --- eq. 1: the contact balance score ---------------------------------------------------

def test_scores_match_plain_loop():
    contacts = _random_contacts(n=7, v=11, p=0.4, seed=3)
    n, v = contacts.shape
    mean = [sum(int(contacts[i, j]) for i in range(n)) / n for j in range(v)]
    expected = [
        (sum(contacts[i, j] * (1 - mean[j]) for j in range(v))
         - sum(contacts[i, j] * mean[j] for j in range(v))) / v
        for i in range(n)
    ]
    np.testing.assert_allclose(contact_balance_scores(contacts), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(contact_mean(contacts), mean, rtol=0, atol=1e-12)


def test_scores_use_given_mean_and_zero_for_non_contact():
    contacts = np.array([[1, 0, 1], [0, 0, 0]], dtype=np.uint8)
    mean = np.array([0.5, 0.25, 0.0])
    # row 0: (1·(1−.5) + 1·(1−0) − (1·.5 + 1·0)) / 3 = 1/3
    np.testing.assert_allclose(contact_balance_scores(contacts, mean=mean), [1 / 3, 0.0])


def test_scores_independent_of_chunk_size(monkeypatch):
    contacts = _random_contacts(n=53, v=13, seed=1)
    whole = contact_balance_scores(contacts)
    monkeypatch.setattr(sampling, "_CHUNK_ELEMENTS", 13 * 4)  # 4 rows per chunk
    np.testing.assert_array_equal(contact_balance_scores(contacts), whole)


def test_zero_one_ints_equal_bools():
    contacts = _random_contacts()
    as_int = contacts.astype(np.int64)
    np.testing.assert_array_equal(contact_balance_scores(as_int), contact_balance_scores(contacts))
    np.testing.assert_array_equal(
        balanced_indices(as_int, seed=4), balanced_indices(contacts, seed=4)
    )


# --- eq. 2: logarithmic edges -----------------------------------------------------------

def test_edges_follow_the_formula():
    edges = log_bin_edges(-0.2, 0.6, bins=5, beta=5.0)
    expected = [-0.2 + 0.8 * math.log(1 + 5 * k / 5) / math.log(6) for k in range(6)]
    np.testing.assert_allclose(edges, expected, rtol=0, atol=1e-15)
    assert edges[0] == -0.2 and edges[-1] == 0.6
    assert (np.diff(edges) > 0).all()


def test_edges_are_finer_at_high_scores():
    # log(1+βx)/log(1+β) is concave: the first bin is the widest, the last the narrowest,
    # i.e. the paper's "finer resolution to higher contact scores".
    widths = np.diff(log_bin_edges(0.0, 1.0, bins=5, beta=5.0))
    assert (np.diff(widths) < 0).all()
    assert widths[0] > 3 * widths[-1]
    # larger β sharpens the contrast; β → 0 tends to even spacing
    assert np.diff(log_bin_edges(0.0, 1.0, 5, 50.0))[-1] < widths[-1]
    np.testing.assert_allclose(np.diff(log_bin_edges(0.0, 1.0, 5, 1e-9)), 0.2, atol=1e-8)


def test_edges_top_is_exactly_s_max_even_when_the_formula_rounds_below():
    s_min, s_max = -0.46, 0.274
    assert s_min + (s_max - s_min) * 1.0 < s_max  # the rounding this guards against
    assert log_bin_edges(s_min, s_max, 5, 5.0)[-1] == s_max


# --- eq. 3: binning never drops a sample ------------------------------------------------

def _released_style_bins(scores, edges):
    """Half-open membership for every bin, (τ_k, τ_{k+1}], as in the released code."""
    return [np.flatnonzero((scores > lo) & (scores <= hi)) for lo, hi in itertools.pairwise(edges)]


def test_every_sample_in_exactly_one_bin():
    scores = contact_balance_scores(_random_contacts(n=200, seed=2))
    edges = log_bin_edges(scores.min(), scores.max(), 5, 5.0)
    idx = assign_bins(scores, edges)
    assert idx.shape == scores.shape and idx.min() >= 0 and idx.max() <= 4
    assert idx[scores.argmin()] == 0 and idx[scores.argmax()] == 4
    for k in range(5):  # eq. 3, with the last bin closed
        inside = (scores >= edges[k]) & ((scores < edges[k + 1]) if k < 4 else True)
        np.testing.assert_array_equal(np.flatnonzero(idx == k), np.flatnonzero(inside))
    binned = np.concatenate(_released_style_bins(scores, edges))
    assert scores.argmin() not in binned  # the released behaviour loses the minimum
    assert len(binned) < len(scores)


def test_released_style_also_loses_the_max_when_the_top_edge_rounds():
    scores = np.array([-0.46, 0.0, 0.274])
    top = scores[0] + (scores[-1] - scores[0]) * (np.log1p(5.0) / np.log1p(5.0))
    released_edges = np.append(log_bin_edges(-0.46, 0.274, 5, 5.0)[:-1], top)
    assert len(np.concatenate(_released_style_bins(scores, released_edges))) == 1
    np.testing.assert_array_equal(assign_bins(scores, released_edges), [0, 2, 4])


def test_edge_values_open_their_bin_and_outliers_clip():
    edges = log_bin_edges(0.0, 1.0, 5, 5.0)
    np.testing.assert_array_equal(assign_bins(edges, edges), [0, 1, 2, 3, 4, 4])
    np.testing.assert_array_equal(assign_bins([-1e-17, 1 + 1e-15], edges), [0, 4])


def test_equal_scores_make_one_bin():
    assert log_bin_edges(0.3, 0.3, 5, 5.0).tolist() == [0.3] * 6
    np.testing.assert_array_equal(assign_bins([0.3, 0.3], [0.3] * 6), [0, 0])
    contacts = np.ones((7, 4), bool)
    assert sorted(balanced_indices(contacts).tolist()) == list(range(7))


# --- stratified resampling --------------------------------------------------------------

@pytest.mark.parametrize("num_samples", [None, 503, 7])
def test_every_nonempty_bin_gets_the_same_quota(num_samples):
    contacts = _skewed_contacts()
    bin_of = _bins_of(contacts)
    sizes = np.bincount(list(bin_of.values()), minlength=5)
    nonempty = np.flatnonzero(sizes)
    total = len(contacts) if num_samples is None else num_samples
    base, extra = divmod(total, len(nonempty))
    drawn = balanced_indices(contacts, num_samples=num_samples, seed=1)
    assert drawn.dtype == np.int64 and len(drawn) == total
    drawn_bins = np.bincount([bin_of[i] for i in drawn.tolist()], minlength=5)
    for rank, k in enumerate(nonempty):  # the remainder goes to the first bins
        assert drawn_bins[k] == base + (rank < extra)
    assert drawn_bins[sizes == 0].sum() == 0


def test_within_a_bin_members_repeat_evenly():
    contacts = _skewed_contacts()
    bin_of = _bins_of(contacts)
    sizes = np.bincount(list(bin_of.values()), minlength=5)
    drawn = balanced_indices(contacts, num_samples=2000, seed=5)
    times = np.bincount(drawn, minlength=len(contacts))
    for k in np.flatnonzero(sizes):
        members = [i for i, b in bin_of.items() if b == k]
        quota = int(sum(times[members]))
        counts = set(times[members].tolist())
        assert counts <= {quota // len(members), -(-quota // len(members))}
    big = int(np.argmax(sizes))  # subsampled: nobody twice
    assert times[[i for i, b in bin_of.items() if b == big]].max() == 1


def test_empty_bins_share_their_quota():
    contacts = _two_clusters()
    report = bin_report(contacts)
    assert report.counts.tolist() == [90, 0, 0, 0, 10]
    np.testing.assert_allclose(report.edges[[0, -1]], [0.0, 0.8])
    drawn = balanced_indices(contacts, num_samples=100, seed=0)
    assert (drawn < 90).sum() == 50 and (drawn >= 90).sum() == 50
    assert set(np.bincount(drawn[drawn >= 90]).tolist()[90:]) == {5}


def test_output_is_shuffled():
    drawn = balanced_indices(_two_clusters(), num_samples=100, seed=0)
    assert (drawn[:50] >= 90).sum() not in (0, 50)


def test_nobody_participating_gives_an_empty_draw():
    none = np.zeros((5, 8), bool)
    out = balanced_indices(none, include_non_contact=False)
    assert out.dtype == np.int64 and out.shape == (0,)
    assert balanced_indices(np.zeros((0, 8), bool)).shape == (0,)
    assert balanced_indices(_random_contacts(), num_samples=0).shape == (0,)
    report = bin_report(none, include_non_contact=False)
    assert report.counts.tolist() == [0] * 5 and report.edges.shape == (0,)


# --- seeds and epochs -------------------------------------------------------------------

def test_same_seed_same_draw_other_seed_other_draw():
    contacts = _skewed_contacts()
    a = balanced_indices(contacts, seed=3)
    np.testing.assert_array_equal(a, balanced_indices(contacts, seed=3))
    assert not np.array_equal(a, balanced_indices(contacts, seed=4))


def test_epochs_redraw_reproducibly():
    contacts = _skewed_contacts()
    e0 = balanced_indices(contacts, seed=3, epoch=0)
    e1 = balanced_indices(contacts, seed=3, epoch=1)
    assert not np.array_equal(e0, e1)
    np.testing.assert_array_equal(e1, balanced_indices(contacts, seed=3, epoch=1))
    assert not np.array_equal(e1, balanced_indices(contacts, seed=4, epoch=1))
    # NumPy's SeedSequence ignores trailing zero words: epoch 0 is the seed-only draw.
    np.testing.assert_array_equal(e0, balanced_indices(contacts, seed=3))


# --- non-contact samples ----------------------------------------------------------------

def test_include_non_contact_switch():
    contacts = _skewed_contacts()
    empty_rows = set(np.flatnonzero(~contacts.any(axis=1)).tolist())
    assert len(empty_rows) == 60
    without = balanced_indices(contacts, include_non_contact=False, num_samples=5000)
    assert not empty_rows & set(without.tolist())
    with_ = balanced_indices(contacts, include_non_contact=True, num_samples=5000)
    assert empty_rows <= set(with_.tolist())
    assert len(balanced_indices(contacts, include_non_contact=False)) == 940
    assert len(balanced_indices(contacts)) == 1000


def test_excluded_non_contact_rows_still_count_in_the_mean():
    contacts = _two_clusters(n_zero=90, n_full=10, v=10)
    contacts[0, 0] = True  # one more contact row so the excluded binning has a range
    report = bin_report(contacts, include_non_contact=False)
    assert report.num_participating == 11 and report.num_non_contact == 89
    # c̄ over all 100 rows: vertex 0 is 11%, the others 10%, so the full rows score 0.798
    assert report.edges[-1] == pytest.approx((1 - 2 * 0.11 + 9 * (1 - 2 * 0.10)) / 10)


def test_bin_report_as_dict():
    d = bin_report(_two_clusters()).as_dict()
    assert d["counts"] == [90, 0, 0, 0, 10] and d["nonempty_bins"] == 2
    assert d["num_samples"] == 100 and d["num_participating"] == 100 and len(d["edges"]) == 6
    assert d["include_non_contact"] is True and d["num_non_contact"] == 90


# --- BCS rebalances a skewed dataset ----------------------------------------------------

def test_skewed_dataset_is_rebalanced():
    contacts = _skewed_contacts()
    per_row = contacts.sum(axis=1)
    drawn = balanced_indices(contacts, seed=0)
    assert per_row[drawn].mean() > 3 * per_row.mean()
    rich = per_row >= 20
    assert rich[drawn].mean() > 3 * rich.mean()  # 4% of rows, a much larger share after BCS


# --- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: balanced_indices(np.zeros(8, bool)), "2-D"),
        (lambda: contact_balance_scores(np.zeros((2, 3, 4), bool)), "2-D"),
        (lambda: balanced_indices(_random_contacts(), bins=0), "bins"),
        (lambda: log_bin_edges(0.0, 1.0, 0, 5.0), "bins"),
        (lambda: balanced_indices(_random_contacts(), beta=0.0), "beta"),
        (lambda: log_bin_edges(0.0, 1.0, 5, -1.0), "beta"),
        (lambda: assign_bins([0.1, np.nan], [0.0, 1.0]), "NaN"),
        (lambda: contact_balance_scores(np.ones((2, 3), bool), mean=[0.5, np.nan, 0.1]), "NaN"),
        (lambda: balanced_indices(_random_contacts(), num_samples=-1), "num_samples"),
        (lambda: balanced_indices(np.full((2, 98), 7, np.uint8)), "unpackbits"),
        (lambda: balanced_indices(_random_contacts(), epoch=-1), "epoch"),
        (lambda: contact_balance_scores(np.ones((2, 3), bool), mean=[0.5]), "shape"),
        (lambda: log_bin_edges(1.0, 0.0, 5, 5.0), "below"),
    ],
)
def test_bad_input_names_the_problem(call, match):
    with pytest.raises(ValueError, match=match):
        call()
