"""haco.report.stats: a cell's 95% interval over seeds and the paired test, against scipy
and hand computations on known samples."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sp

from haco.report import stats

SAMPLES = {  # known per-seed F1, two to five seeds: the t interval
    2: [0.61, 0.66],
    3: [0.60, 0.70, 0.80],
    4: [0.52, 0.55, 0.49, 0.58],
    5: [0.71, 0.69, 0.74, 0.70, 0.66],
}


@pytest.mark.parametrize("n", sorted(SAMPLES))
def test_up_to_five_seeds_get_the_student_t_interval(n):
    values = np.array(SAMPLES[n])
    cell = stats.summarize(values)
    half = sp.t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n)  # by hand
    assert cell.method == "t" and cell.n == n
    assert cell.mean == pytest.approx(values.mean())
    assert cell.std == pytest.approx(values.std(ddof=1))
    assert (cell.low, cell.high) == pytest.approx((values.mean() - half, values.mean() + half))
    reference = sp.ttest_1samp(values, 0.0).confidence_interval(0.95)  # scipy's own
    assert (cell.low, cell.high) == pytest.approx((reference.low, reference.high))


def test_three_seeds_give_the_known_interval():
    cell = stats.summarize([0.60, 0.70, 0.80])  # 0.7 -+ 4.3027 * 0.1 / sqrt(3)
    assert (cell.low, cell.high) == pytest.approx((0.451586, 0.948414), abs=1e-6)


@pytest.mark.parametrize("n", [6, 12])
def test_more_than_five_seeds_get_a_seeded_percentile_bootstrap(n):
    values = np.random.default_rng(n).gamma(1.0, 0.1, size=n)  # skewed on purpose
    cell = stats.summarize(values)
    assert cell.method == "bootstrap" and cell.n == n
    expected = sp.bootstrap((values,), np.mean, n_resamples=9999, method="percentile",
                            rng=np.random.default_rng(0)).confidence_interval
    assert (cell.low, cell.high) == pytest.approx((expected.low, expected.high))
    bca = sp.bootstrap((values,), np.mean, n_resamples=9999, method="BCa",
                       rng=np.random.default_rng(0)).confidence_interval
    assert (cell.low, cell.high) != pytest.approx((bca.low, bca.high), abs=1e-9)
    assert values.min() < cell.low < values.mean() < cell.high < values.max()
    assert stats.summarize(values) == cell  # the same seed: the same table twice


def test_the_bootstrap_agrees_with_the_t_interval_on_a_large_normal_sample():
    values = np.random.default_rng(3).normal(0.5, 0.05, size=200)
    boot = stats.bootstrap_interval(values)
    t = stats.t_interval(values)
    assert boot == pytest.approx(t, abs=0.002)  # half-widths of about 0.007


def test_one_seed_has_no_interval_and_nan_values_are_dropped():
    one = stats.summarize([0.4])
    assert one.mean == 0.4 and one.n == 1 and one.method == ""
    assert math.isnan(one.std) and math.isnan(one.low) and math.isnan(one.high)
    assert stats.summarize([0.4, math.nan]) == one  # a region no test sample touched
    for empty in ([], [math.nan, math.nan]):
        cell = stats.summarize(empty)
        assert cell.n == 0 and math.isnan(cell.mean) and math.isnan(cell.low)
    with_nan = stats.summarize([0.60, math.nan, 0.70, 0.80, np.inf])
    assert with_nan.n == 3 and with_nan.low == pytest.approx(0.451586, abs=1e-6)


def test_equal_seeds_give_a_point_interval_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cell = stats.summarize([0.5, 0.5, 0.5])
        many = stats.summarize([0.25] * 8)
    assert (cell.low, cell.high, cell.std) == (0.5, 0.5, 0.0)
    assert (many.low, many.high) == (0.25, 0.25)


@pytest.mark.parametrize("value, low, high, off", [
    (0.531, 0.70, 0.75, True), (0.531, 0.50, 0.55, False), (0.50, 0.50, 0.55, False),
    (0.531, math.nan, math.nan, False), (None, 0.5, 0.6, False)])
def test_outside_the_interval(value, low, high, off):
    assert stats.outside(value, low, high) is off


def test_the_paired_test_pairs_runs_by_seed_not_by_position():
    """Seeds 0-2 in both rows (listed in different orders), seed 7 in the first only."""
    first = pd.Series({"2": 0.70, "0": 0.50, "1": 0.60, "7": 0.99})
    second = pd.Series({"0": 0.40, "1": 0.55, "2": 0.72})
    result = stats.paired(first, second)
    diffs = np.array([0.10, 0.05, -0.02])  # seed by seed
    half = sp.t.ppf(0.975, 2) * diffs.std(ddof=1) / math.sqrt(3)
    t = diffs.mean() / (diffs.std(ddof=1) / math.sqrt(3))
    assert result.pairs == 3
    assert result.diff == pytest.approx(diffs.mean())
    assert (result.low, result.high) == pytest.approx((diffs.mean() - half,
                                                      diffs.mean() + half))
    assert result.p_value == pytest.approx(2 * sp.t.sf(abs(t), 2))
    assert result.p_improvement == pytest.approx(2 / 3)  # seeds 0 and 1 of 3


def test_ties_count_one_half_and_nan_seeds_drop_out():
    first = pd.Series({"0": 0.5, "1": 0.6, "2": 0.4, "3": math.nan})
    second = pd.Series({"0": 0.5, "1": 0.5, "2": 0.5, "3": 0.1})
    result = stats.paired(first, second)
    assert result.pairs == 3 and result.p_improvement == pytest.approx((0.5 + 1 + 0) / 3)


def test_fewer_than_two_pairs_are_not_tested():
    one = stats.paired(pd.Series({"0": 0.5, "1": 0.6}), pd.Series({"1": 0.4, "5": 0.3}))
    assert one.pairs == 1 and math.isnan(one.diff) and math.isnan(one.low)
    assert stats.paired(pd.Series(dtype=float), pd.Series(dtype=float)).pairs == 0


def test_a_constant_difference_has_a_point_interval_and_no_p():
    result = stats.paired(pd.Series({"0": 0.5, "1": 0.6, "2": 0.7}),
                          pd.Series({"0": 0.4, "1": 0.5, "2": 0.6}))
    assert (result.low, result.high) == pytest.approx((0.1, 0.1))
    assert math.isnan(result.p_value) and result.p_improvement == 1.0
