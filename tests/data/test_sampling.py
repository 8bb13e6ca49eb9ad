"""Balanced Contact Sampling (paper section 3.2) against plain references on tiny arrays."""

import itertools
import math

import numpy as np
import pytest

from haco.data import bcs
from haco.data.bcs import (
    assign_bins,
    assign_release_bins,
    contact_balance_scores,
    contact_mean,
    log_bin_edges,
    release_bin_edges,
    release_scores,
)
from haco.data.sampling import EmptyBinError, balanced_indices, bin_report


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
    monkeypatch.setattr(bcs, "_CHUNK_ELEMENTS", 13 * 4)  # 4 rows per chunk
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
    """The released code's membership: every bin half-open, [e_k, e_{k+1}), the last too."""
    return [np.flatnonzero((scores >= lo) & (scores < hi)) for lo, hi in itertools.pairwise(edges)]


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
    assert scores.argmax() not in binned  # a half-open last bin loses the maximum
    grid = np.linspace(1e-5, 1, 6)  # the release's grid: its first edge lies above s_min
    offset = scores.min() + np.ptp(scores) * np.log1p(5 * grid) / np.log1p(5)
    assert scores.argmin() not in np.concatenate(_released_style_bins(scores, offset))


def test_released_style_also_loses_the_max_when_the_top_edge_rounds():
    scores = np.array([-0.46, 0.0, 0.274])
    top = scores[0] + (scores[-1] - scores[0]) * (np.log1p(5.0) / np.log1p(5.0))
    released_edges = np.append(log_bin_edges(-0.46, 0.274, 5, 5.0)[:-1], top)
    # the maximum is in no half-open bin (these edges start at s_min, so the minimum is kept)
    assert sorted(np.concatenate(_released_style_bins(scores, released_edges))) == [0, 1]
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


# --- the released code's binning (edges="release"), against a re-statement of it --------

def _release_scores(contacts):
    """The release's score (`get_contact_difficulty_sample_id`): per sample
    mean(c·(1 − c̄)) − mean(c·c̄), c̄ the dataset mean as saved, in float32. float64, as
    it comes out; `balanced_data` then rounds it to float32."""
    mean = contacts.mean(axis=0).astype(np.float32)
    rows = contacts.astype(np.int64)
    return np.array([np.mean(np.abs(r) * (1 - mean)) - np.mean(np.abs(r) * mean) for r in rows])


def _release_scores_with(contacts, mean):
    """`_release_scores` with a given mean (per_dataset: the dataset's own)."""
    mean = np.asarray(mean).astype(np.float32)
    rows = contacts.astype(np.int64)
    return np.array([np.mean(r * (1 - mean)) - np.mean(r * mean) for r in rows], np.float32)


def _release_binning(scores, bins=5, beta=5):
    """The release's `balanced_data` up to its draw: (edges, folds as row indices, quota).
    Its float32 scores meet float64 edges, which NumPy 1.x (its Python 3.8) compares in
    float32: hence the float32 casts of the edges."""
    scores = np.array(scores, dtype=np.float32)
    lo, hi = np.min(scores), np.max(scores)
    grid = np.linspace(1e-5, 1, bins + 1)
    edges = lo + (hi - lo) * np.log1p(grid * beta) / np.log1p(beta)
    folds = [np.flatnonzero((scores >= np.float32(edges[i])) & (scores < np.float32(edges[i + 1])))
             for i in range(bins)]
    return edges, folds, int(np.mean([len(f) for f in folds]) * 1.0)


def _rows(spec, v=10):
    """Contacts from [(how many rows, their contact vertices), ...]."""
    out = []
    for count, vertices in spec:
        row = np.zeros(v, bool)
        row[list(vertices)] = True
        out += [row] * count
    return np.array(out)


def _release_crash_case():
    """Scores -0.025 (40 rows, the minimum), 0.0375 (20), 0.6125 (3), 0.7094 (1, the
    maximum): the release bins [20, 0, 0, 3, 0], quota int(23 / 5) = 4."""
    return _rows([(40, [0]), (20, [1]), (3, range(2, 9)), (1, range(2, 10))])


@pytest.mark.parametrize("make", [_random_contacts, _skewed_contacts, _release_crash_case])
def test_release_scores_match_the_release(make):
    contacts = make()
    theirs = _release_scores(contacts).astype(np.float32)
    np.testing.assert_array_equal(release_scores(contacts), theirs)
    # the paper's float64 scores agree to float32 precision
    np.testing.assert_allclose(contact_balance_scores(contacts), theirs, rtol=0, atol=1e-6)


def test_release_scores_take_a_given_mean():
    contacts = _random_contacts(seed=1)
    mean = contact_mean(_random_contacts(p=0.4, seed=9))
    np.testing.assert_array_equal(release_scores(contacts, mean),
                                  _release_scores_with(contacts, mean))
    assert not np.array_equal(release_scores(contacts, mean), release_scores(contacts))


def test_release_edges_match_the_release():
    scores = release_scores(_random_contacts(n=300, seed=4))
    expected, _, _ = _release_binning(scores)
    edges = release_bin_edges(scores.min(), scores.max(), 5, 5.0)
    assert edges.dtype == np.float32
    np.testing.assert_array_equal(edges, expected.astype(np.float32))  # as compared
    np.testing.assert_allclose(edges, expected, rtol=0, atol=1e-6)  # as computed (float64)
    assert edges[0] > scores.min() and edges[-1] <= scores.max()
    assert not np.array_equal(edges, log_bin_edges(scores.min(), scores.max(), 5, 5.0))


@pytest.mark.parametrize("make", [
    lambda: _random_contacts(n=300, seed=4),
    _skewed_contacts,  # 60 non-contact rows tied at the minimum
    lambda: _random_contacts(n=400, v=30, p=0.1, seed=5),
])
def test_release_bins_match_the_release_and_drop_only_the_extremes(make):
    contacts = make()
    _, folds, _ = _release_binning(_release_scores(contacts))
    f32 = release_scores(contacts)
    idx = assign_release_bins(f32, release_bin_edges(f32.min(), f32.max(), 5, 5.0))
    for k, fold in enumerate(folds):
        np.testing.assert_array_equal(np.flatnonzero(idx == k), fold)
    extremes = np.flatnonzero((f32 == f32.min()) | (f32 == f32.max()))
    np.testing.assert_array_equal(np.flatnonzero(idx < 0), extremes)
    report = bin_report(contacts, edges="release")
    assert report.counts.tolist() == [len(f) for f in folds]
    assert report.num_participating == len(contacts) - len(extremes)


def test_release_loses_the_maximum_even_where_the_float64_top_edge_exceeds_it():
    # The release compares in float32 (NumPy 1.x): its top edge, rounded, no longer
    # exceeds the maximum score, which then drops out; a float64 comparison would keep it.
    contacts = _random_contacts(n=400, v=30, p=0.1, seed=5)
    f32 = release_scores(contacts)
    top = f32.min() + (f32.max() - f32.min()) * np.log1p(5.0) / np.log1p(5.0)  # float64
    assert top > f32.max() and np.float32(top) <= f32.max()
    idx = assign_release_bins(f32, release_bin_edges(f32.min(), f32.max(), 5, 5.0))
    assert (idx[f32 == f32.max()] == -1).all()


def test_release_non_contact_rows_count_in_the_mean_only():
    contacts = _skewed_contacts()  # 60 of 1000 rows without contact
    has_contact = contacts.any(axis=1)
    mean = contacts.mean(axis=0).astype(np.float32)  # over every row, as the release's file
    theirs = np.array([np.mean(r * (1 - mean)) - np.mean(r * mean)
                       for r in contacts[has_contact].astype(np.int64)])
    _, folds, _ = _release_binning(theirs)
    report = bin_report(contacts, include_non_contact=False, edges="release")
    assert report.counts.tolist() == [len(f) for f in folds]


def test_release_draw_takes_int_mean_bin_size_from_every_bin():
    contacts = _random_contacts(n=60, seed=14)
    _, folds, quota = _release_binning(_release_scores(contacts))
    assert [len(f) for f in folds] == [19, 22, 11, 4, 2] and quota == 11  # int(58 / 5)
    drawn = balanced_indices(contacts, seed=3, edges="release")
    assert len(drawn) == 5 * quota and not np.array_equal(drawn, np.sort(drawn))
    for fold in folds:
        from_fold = drawn[np.isin(drawn, fold)]
        assert len(from_fold) == quota
        if len(fold) > quota:  # a subset, without replacement
            assert len(np.unique(from_fold)) == quota
        elif len(fold) == quota:  # the bin as it is
            assert sorted(from_fold) == sorted(fold)


def test_release_draw_oversamples_small_bins_iid():
    # With replacement, i.i.d. as np.random.choice: the two members of the smallest bin
    # (quota 11) are drawn unevenly in some epoch, which the paper rule never does (5 and 6).
    contacts = _random_contacts(n=60, seed=14)
    _, folds, _ = _release_binning(_release_scores(contacts))
    smallest = folds[4]
    spreads = []
    for epoch in range(20):
        drawn = balanced_indices(contacts, seed=0, epoch=epoch, edges="release")
        counts = [int(np.sum(drawn == i)) for i in smallest]
        assert sum(counts) == 11
        spreads.append(max(counts) - min(counts))
    assert max(spreads) > 1


def test_an_empty_release_bin_is_a_clear_error():
    contacts = _release_crash_case()
    _, folds, quota = _release_binning(_release_scores(contacts))
    assert [len(f) for f in folds] == [20, 0, 0, 3, 0] and quota == 4
    with pytest.raises(ValueError, match="greater than 0"):  # what the release itself does
        np.random.RandomState(0).choice(len(folds[1]), size=quota, replace=True)
    with pytest.raises(EmptyBinError) as err:
        balanced_indices(contacts, edges="release")
    message = str(err.value)
    assert "bin(s) 1 [" in message and ", 2 [" in message and ", 4 [" in message
    assert "[20, 0, 0, 3, 0]" in message and "loader.bcs.edges=paper" in message
    assert isinstance(err.value, ValueError)
    assert len(balanced_indices(contacts)) == len(contacts)  # the paper rule copes


def test_a_release_mean_bin_size_below_one_draws_nothing():
    """Three binned samples in five bins: int(mean size) = 0, so the release draws nothing
    from any bin (np.random.choice of size 0 succeeds even on an empty bin)."""
    contacts = np.zeros((5, 8), bool)
    for row, width in enumerate([1, 2, 4, 6, 8]):
        contacts[row, :width] = True
    _, folds, quota = _release_binning(_release_scores(contacts))
    assert quota == 0 and sum(len(f) for f in folds) < 5
    assert balanced_indices(contacts, edges="release").size == 0


def test_release_draw_of_nobody_is_empty_and_length_is_its_own():
    nobody = np.zeros((5, 4), bool)
    assert balanced_indices(nobody, include_non_contact=False, edges="release").size == 0
    with pytest.raises(ValueError, match="num_samples"):
        balanced_indices(_random_contacts(), num_samples=10, edges="release")
    with pytest.raises(ValueError, match="edges"):
        balanced_indices(_random_contacts(), edges="relase")


def test_a_given_mean_replaces_the_rows_own():
    contacts = _random_contacts(n=200, seed=6)
    own = contact_mean(contacts)
    assert np.array_equal(balanced_indices(contacts, seed=2, mean=own),
                          balanced_indices(contacts, seed=2))
    other = contact_mean(_random_contacts(n=200, p=0.5, seed=7))
    assert not np.array_equal(balanced_indices(contacts, seed=2, mean=other),
                              balanced_indices(contacts, seed=2))


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
