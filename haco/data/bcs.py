"""Balanced Contact Sampling's equations (section 3.2 of the paper), usable on their own.

- `contact_balance_scores`: eq. 1, s_i = (1/V) (c_i·(1 − c̄) − c_i·c̄);
- `log_bin_edges`: eq. 2, τ_k = s_min + (s_max − s_min)·log(1 + β x_k)/log(1 + β), x_k = k/K;
- `assign_bins`: eq. 3, bin k holds τ_k ≤ s < τ_{k+1}, the last bin closed at s_max;
- `release_scores`, `release_bin_edges`, `assign_release_bins`: the same three as the
  authors' released code computes them (`lib/utils/train_utils.py`, `balanced_data` and
  `get_contact_difficulty_sample_id`): float32 scores in the release's arithmetic, an edge
  grid x = linspace(1e-5, 1, K + 1) whose first edge lies above s_min (every sample tied
  at the minimum is in no bin), and half-open bins [e_k, e_{k+1}), the last one too (the
  maximum is lost whenever the top edge does not exceed it; it usually equals it).

How an epoch is drawn from these bins is haco/data/sampling.py.

Contacts are an (N, V) boolean array (V = 778 MANO vertices), one row per sample. Callers
holding bit-packed labels unpack them first (`np.unpackbits(x, axis=1, count=778)`).
"""

from __future__ import annotations

import numbers

import numpy as np

# Rows are cast to float64 this many elements at a time for the score's matrix-vector
# product: about 32 MB per chunk, so a 1e6 x 778 bool matrix never gets a float copy.
_CHUNK_ELEMENTS = 4_000_000

# The released code's edge grid starts here rather than at 0 ("small epsilon to avoid zero").
_RELEASE_GRID_START = 1e-5


def contact_balance_scores(contacts: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """Contact balance score of every sample (paper eq. 1).

    s_i = (1/V) (c_i·(1 − c̄) − c_i·c̄) = (1/V) c_i·(1 − 2 c̄): a contact at a vertex that
    is rarely in contact raises the score, one at a vertex usually in contact lowers it, and
    a sample without contact scores exactly 0.

    Args:
        contacts: (N, V) bool (or 0/1) array, one row per sample.
        mean: (V,) per-vertex contact mean c̄; by default computed from all N rows,
            non-contact rows included (the paper's dataset-wide mean).
    Returns:
        (N,) float64 scores.
    """
    contacts = as_contact_matrix(contacts)
    n, v = contacts.shape
    if mean is None:
        if n == 0:
            return np.zeros(0, dtype=np.float64)
        mean = contact_mean(contacts)
    mean = _check_mean(mean, v)
    weights = (1.0 - 2.0 * mean) / v  # c·(1 − c̄) − c·c̄ folded into one dot product
    return _row_dots(contacts, weights)


def release_scores(contacts: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """(N,) float32 contact balance scores computed as the released code does.

    Eq. 1 again, in the release's arithmetic (`get_contact_difficulty_sample_id`, then
    `balanced_data`): c̄ in float32 (it loads a saved float32 mean), 1 − c̄ in float32, the
    two means mean(c·(1 − c̄)) and mean(c·c̄) in float64 and subtracted, the result rounded
    to float32. A score can differ from `contact_balance_scores` by a float32 rounding, which
    decides, e.g., whether the top edge rounds above the maximum. (The release's saved mean
    is itself a float32 np.mean, which may differ from the rounded exact mean here by a few
    float32 roundings on large datasets.)

    Args:
        contacts: (N, V) bool (or 0/1) array, one row per sample.
        mean: (V,) per-vertex contact mean; by default computed from all N rows.
    """
    contacts = as_contact_matrix(contacts)
    n, v = contacts.shape
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    mean = contact_mean(contacts) if mean is None else _check_mean(mean, v)
    mean32 = mean.astype(np.float32)
    away = (np.float32(1.0) - mean32).astype(np.float64)
    toward = mean32.astype(np.float64)
    scores = _row_dots(contacts, away) / v - _row_dots(contacts, toward) / v
    return scores.astype(np.float32)


def _row_dots(contacts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(N,) float64 contacts @ weights, the rows cast to float64 a chunk at a time."""
    n, v = contacts.shape
    out = np.empty(n, dtype=np.float64)
    step = max(1, _CHUNK_ELEMENTS // max(v, 1))
    for start in range(0, n, step):
        out[start:start + step] = contacts[start:start + step].astype(np.float64) @ weights
    return out


def contact_mean(contacts: np.ndarray) -> np.ndarray:
    """(V,) float64 per-vertex contact frequency over all rows of an (N, V) contact array."""
    contacts = as_contact_matrix(contacts)
    if contacts.shape[0] == 0:
        raise ValueError("the contact mean of zero samples is undefined; pass at least one row")
    # Integer counts first: exact, and no float copy of the whole matrix.
    return contacts.sum(axis=0, dtype=np.int64) / contacts.shape[0]


def log_bin_edges(s_min: float, s_max: float, bins: int, beta: float) -> np.ndarray:
    """(bins + 1,) logarithmic bin edges from s_min to s_max (paper eq. 2).

    log(1 + βx)/log(1 + β) is concave in x, so the edges move fast at first and then slow
    down: the low-score bins are wide and the high-score bins narrow, i.e. finer resolution
    for the rare, contact-rich samples. Larger β makes the contrast stronger.
    """
    check_bins_beta(bins, beta)
    if not (np.isfinite(s_min) and np.isfinite(s_max)):
        raise ValueError(f"score range must be finite, got s_min={s_min}, s_max={s_max}")
    if s_max < s_min:
        raise ValueError(f"s_max ({s_max}) is below s_min ({s_min}); pass them in order")
    x = np.arange(bins + 1, dtype=np.float64) / bins
    edges = s_min + (s_max - s_min) * np.log1p(beta * x) / np.log1p(beta)
    # Pin the ends: s_min + (s_max − s_min)·1 can round away from s_max.
    edges[0], edges[-1] = s_min, s_max
    return edges


def assign_bins(scores: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(N,) int64 bin index of every score (paper eq. 3), never dropping a sample.

    Bin k holds τ_k ≤ s < τ_{k+1}; the last bin is closed, so s = s_max lands in it. The
    released code (`lib/utils/train_utils.py`) lost samples at both ends: its edge grid
    starts at 1e-5 rather than 0, so the first edge lies above s_min and every sample tied
    at the minimum falls in no bin; and its last bin is half-open like the others, so the
    maximum-score samples are lost whenever the computed top edge does not exceed s_max
    (when it equals it too). That rule is `assign_release_bins` (`edges="release"`).
    Indices are clipped to [0, K − 1] so that a score a rounding error outside
    the edges still falls in the nearest bin. Degenerate edges (s_max == s_min) put every
    sample in bin 0.
    """
    scores = np.asarray(scores, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; check the contact mean passed to the scores")
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(f"edges must be 1-D with at least 2 entries, got shape {edges.shape}")
    if not np.isfinite(edges).all() or (np.diff(edges) < 0).any():
        raise ValueError("edges must be finite and non-decreasing; build them with log_bin_edges")
    num_bins = edges.size - 1
    if edges[0] == edges[-1]:
        return np.zeros(scores.size, dtype=np.int64)
    # side="right" puts s == τ_k into bin k (the closed lower end of eq. 3).
    idx = np.searchsorted(edges, scores, side="right") - 1
    return np.clip(idx, 0, num_bins - 1).astype(np.int64)


def release_bin_edges(s_min: float, s_max: float, bins: int, beta: float) -> np.ndarray:
    """(bins + 1,) float32 bin edges as the released code compares them.

    e_k = s_min + (s_max − s_min)·log1p(β x_k)/log1p(β), x = linspace(1e-5, 1, K + 1),
    with s_min, s_max and their difference in float32 (the release takes them from float32
    scores) and the rest in float64. The release then compares its float32 scores with these
    float64 edges; under NumPy 1.x, which its Python 3.8 environment has, such a comparison
    runs in float32 (value-based casting), so the edges are rounded to float32 here. (NumPy
    2 would compare in float64; the two differ only for a score within a float32 rounding
    of an edge.)
    """
    check_bins_beta(bins, beta)
    lo, hi = np.float32(s_min), np.float32(s_max)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"score range must be finite, got s_min={s_min}, s_max={s_max}")
    if hi < lo:
        raise ValueError(f"s_max ({s_max}) is below s_min ({s_min}); pass them in order")
    x = np.linspace(_RELEASE_GRID_START, 1.0, bins + 1)
    span = hi - lo  # float32, as in the release
    edges = lo + span * np.log1p(x * beta) / np.log1p(beta)  # float64
    return edges.astype(np.float32)


def assign_release_bins(scores: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(N,) int64 bin of every score under the released code's rule, -1 for none.

    Every bin is half-open, e_k ≤ s < e_{k+1}, the last one included, compared in float32
    (scores are rounded to float32 first). A score below e_0 (with `release_bin_edges`:
    every score tied at the minimum) or at or above the top edge (the maximum, unless the
    top edge rounded above it) gets -1, i.e. it takes no part in the draw.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; check the contact mean passed to the scores")
    edges = np.asarray(edges, dtype=np.float32)
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(f"edges must be 1-D with at least 2 entries, got shape {edges.shape}")
    if not np.isfinite(edges).all() or (np.diff(edges) < 0).any():
        raise ValueError("edges must be finite and non-decreasing; build them with "
                         "release_bin_edges")
    # side="right": s == e_k goes to bin k; s == e_K goes past the last bin, as in the release.
    idx = np.searchsorted(edges, scores.astype(np.float32), side="right") - 1
    idx[idx >= edges.size - 1] = -1
    return idx.astype(np.int64)


def as_contact_matrix(contacts: np.ndarray) -> np.ndarray:
    """The contacts as an (N, V) bool array; refuses anything but 0/1 values."""
    contacts = np.asarray(contacts)
    if contacts.ndim != 2:
        raise ValueError(
            f"contacts must be 2-D (samples, vertices), got shape {contacts.shape}; "
            "stack per-sample vectors with np.stack"
        )
    if contacts.dtype == np.bool_:
        return contacts
    if not ((contacts == 0) | (contacts == 1)).all():
        raise ValueError(
            f"contacts must be boolean or 0/1, got other values (dtype {contacts.dtype}); "
            "bit-packed labels must be unpacked first: np.unpackbits(x, axis=1, count=778)"
        )
    return contacts.astype(bool)


def _check_mean(mean: np.ndarray, num_vertices: int) -> np.ndarray:
    mean = np.asarray(mean, dtype=np.float64)
    if mean.shape != (num_vertices,):
        raise ValueError(f"mean must have shape ({num_vertices},), got {mean.shape}")
    if np.isnan(mean).any():
        raise ValueError("mean contains NaN, which would make NaN scores; recompute it "
                         "with contact_mean on at least one sample")
    return mean


def check_bins_beta(bins: int, beta: float) -> None:
    if not is_int(bins) or bins < 1:
        raise ValueError(f"bins must be an int >= 1, got {bins!r}")
    if not isinstance(beta, numbers.Real) or not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be a finite number > 0 (the paper uses 5), got {beta!r}")


def is_int(value: object) -> bool:
    # bool is an int subclass; `bins=True` is a mistake, not 1.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
