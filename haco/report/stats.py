"""Statistics over seeds for the tables and figures: a cell's 95% interval and a paired test.

A cell (one row's column over its seeds) gets its mean, std (ddof 1), n and a 95% interval
of the mean: Student's t interval for n <= 5 (a bootstrap over so few seeds can only
resample a handful of distinct means and comes out too narrow), a percentile bootstrap over
the seeds otherwise (no normality assumed once there are enough seeds to resample). One
seed has no interval. Non-finite values (a metric left undefined, e.g. a region no test
sample touches) are dropped before anything is counted.

Two rows are compared over the seeds both ran (runs paired by seed): the mean of the
per-seed differences, its paired t interval and two-sided p-value, and the probability of
improvement: the share of paired seeds on which the first row beats the second, ties
counting one half (the paired form of the probability of improvement of Agarwal et al.,
"Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021).

Every distribution comes from scipy.stats; the bootstrap uses a fixed RNG seed, so a table
printed twice reads the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
MAX_T_SEEDS = 5          # up to this many seeds: t interval; more: bootstrap
BOOTSTRAP_DRAWS = 9999   # scipy's default number of resamples
BOOTSTRAP_SEED = 0
MIN_PAIRS = 2            # a paired test needs at least two paired seeds


@dataclass(frozen=True)
class Summary:
    """One cell over its seeds; NaN where undefined (n = 0: all; n = 1: std and interval)."""

    mean: float
    std: float
    n: int
    low: float
    high: float
    method: str  # "t", "bootstrap" or "" (no interval)


@dataclass(frozen=True)
class Paired:
    """First minus second over the seeds both have; NaN below MIN_PAIRS pairs."""

    pairs: int
    diff: float = math.nan           # mean of the per-seed differences
    low: float = math.nan            # paired t 95% interval of that mean
    high: float = math.nan
    p_value: float = math.nan        # two-sided paired t-test
    p_improvement: float = math.nan  # share of pairs the first wins, ties one half


def finite(values) -> np.ndarray:
    """The finite values as floats (NaN and inf dropped)."""
    values = np.asarray(values, dtype=float).ravel()
    return values[np.isfinite(values)]


def _constant(values: np.ndarray) -> bool:
    """All equal (up to float noise): every interval is the point itself; scipy would
    return NaN (t with zero scale) or warn about catastrophic cancellation."""
    return bool(np.ptp(values) <= 1e-12 * max(1.0, float(np.abs(values).max())))


def t_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student's t interval of the mean (n - 1 degrees of freedom); n >= 2."""
    from scipy import stats

    mean = float(values.mean())
    if _constant(values):
        return mean, mean
    low, high = stats.t.interval(confidence, len(values) - 1, loc=mean,
                                 scale=stats.sem(values))
    return float(low), float(high)


def bootstrap_interval(values: np.ndarray, confidence: float = CONFIDENCE,
                       draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED
                       ) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, seeds resampled with replacement."""
    from scipy import stats

    if _constant(values):
        mean = float(values.mean())
        return mean, mean
    found = stats.bootstrap((values,), np.mean, confidence_level=confidence,
                            n_resamples=draws, method="percentile",
                            rng=np.random.default_rng(seed)).confidence_interval
    return float(found.low), float(found.high)


def summarize(values) -> Summary:
    """Mean, std, n and the 95% interval of one cell's per-seed values."""
    values = finite(values)
    n = len(values)
    if n == 0:
        return Summary(math.nan, math.nan, 0, math.nan, math.nan, "")
    mean = float(values.mean())
    if n == 1:
        return Summary(mean, math.nan, 1, math.nan, math.nan, "")
    std = float(values.std(ddof=1))
    if n <= MAX_T_SEEDS:
        return Summary(mean, std, n, *t_interval(values), "t")
    return Summary(mean, std, n, *bootstrap_interval(values), "bootstrap")


def outside(value, low: float, high: float) -> bool:
    """Whether `value` (e.g. the paper's figure) lies outside [low, high]; False when
    either is missing (no interval: nothing to say)."""
    if value is None or any(math.isnan(float(x)) for x in (value, low, high)):
        return False
    return not low <= float(value) <= high


def paired(first: pd.Series, second: pd.Series, confidence: float = CONFIDENCE) -> Paired:
    """First minus second, paired by index (the seed); seeds missing or NaN in either
    are left out."""
    from scipy import stats

    both = pd.concat([first.rename("first"), second.rename("second")], axis=1,
                     join="inner").astype(float).dropna()
    pairs = len(both)
    if pairs < MIN_PAIRS:
        return Paired(pairs)
    a, b = both["first"].to_numpy(), both["second"].to_numpy()
    diffs = a - b
    wins = float(np.mean(np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))))
    if _constant(diffs):  # no spread: the interval is the point, the test undefined
        diff = float(diffs.mean())
        return Paired(pairs, diff, diff, diff, math.nan, wins)
    test = stats.ttest_rel(a, b)
    interval = test.confidence_interval(confidence)
    return Paired(pairs, float(diffs.mean()), float(interval.low), float(interval.high),
                  float(test.pvalue), wins)
