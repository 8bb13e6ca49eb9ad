"""Balanced Contact Sampling (BCS), section 3.2 of the paper.

A hand contact dataset is dominated by samples with little or no contact. BCS scores every
sample by how far its contact deviates from the dataset-wide mean (eq. 1), groups the scores
into K bins with logarithmic edges (eq. 2, 3), and resamples so that every bin contributes
the same number of samples to an epoch.

Building blocks, usable on their own:
- `contact_balance_scores`: eq. 1, s_i = (1/V) (c_i·(1 − c̄) − c_i·c̄);
- `log_bin_edges`: eq. 2, τ_k = s_min + (s_max − s_min)·log(1 + β x_k)/log(1 + β), x_k = k/K;
- `assign_bins`: eq. 3, bin k holds τ_k ≤ s < τ_{k+1}, the last bin closed at s_max;
- `balanced_indices`: the stratified resampling that yields an epoch's sample indices;
- `bin_report`: per-bin counts and edges, for `haco data stats`.

Two edge rules (`edges=`, the config's `loader.bcs.edges`):
- "paper" (default): eq. 2-3 as above; every participating sample lands in a bin, and an
  epoch gives every non-empty bin an equal share of `num_samples`.
- "release": the authors' released code (`lib/utils/train_utils.py`, `balanced_data` and
  `get_contact_difficulty_sample_id`): `release_scores`, `release_bin_edges`,
  `assign_release_bins`. Scores are float32, in the release's arithmetic; the edge grid is
  x = linspace(1e-5, 1, K + 1), so the first edge lies above s_min and every sample tied
  at the minimum is in no bin; every bin is half-open [e_k, e_{k+1}), the last one too, so
  the maximum is lost whenever the top edge does not exceed it (it usually equals it).
  Each bin then yields int(mean bin size) samples (drawn without replacement from a
  larger bin, with replacement from a smaller one, all of an equal one), so the epoch has
  K·int(mean bin size) samples; an empty bin is an `EmptyBinError` (the release crashes),
  except when that mean is below 1: then nothing is drawn, as in the release.

Contacts are an (N, V) boolean array (V = 778 MANO vertices), one row per sample. Callers
holding bit-packed labels unpack them first (`np.unpackbits(x, axis=1, count=778)`).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from haco.config import ConfigError

# Rows are cast to float64 this many elements at a time for the score's matrix-vector
# product: about 32 MB per chunk, so a 1e6 x 778 bool matrix never gets a float copy.
_CHUNK_ELEMENTS = 4_000_000

# The edge rules of `balanced_indices(edges=...)` (config `loader.bcs.edges`).
EDGE_RULES = ("paper", "release")

# The released code's edge grid starts here rather than at 0 ("small epsilon to avoid zero").
_RELEASE_GRID_START = 1e-5


class EmptyBinError(ConfigError):
    """A score bin without samples under `edges="release"`, which cannot fill it (the
    released code fails there: np.random.choice over zero members). A ConfigError (so a
    ValueError): this data cannot be balanced that way, and the message says what to set."""


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
    contacts = _as_contact_matrix(contacts)
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
    contacts = _as_contact_matrix(contacts)
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
    contacts = _as_contact_matrix(contacts)
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
    _check_bins_beta(bins, beta)
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
    _check_bins_beta(bins, beta)
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


@dataclass(frozen=True)
class BinReport:
    """What BCS makes of a dataset, before any resampling (`haco data stats`)."""

    edges: np.ndarray          # (bins + 1,) score edges; empty when nobody participates
    counts: np.ndarray         # (bins,) participating samples per bin
    num_samples: int           # all rows
    num_non_contact: int       # rows without any contact
    num_participating: int     # rows that were binned
    include_non_contact: bool  # whether non-contact rows were binned

    @property
    def nonempty_bins(self) -> int:
        return int(np.count_nonzero(self.counts))

    def as_dict(self) -> dict:
        """Plain Python values, ready for JSON, MLflow params or a table row."""
        return {
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "num_samples": self.num_samples,
            "num_non_contact": self.num_non_contact,
            "num_participating": self.num_participating,
            "include_non_contact": self.include_non_contact,
            "nonempty_bins": self.nonempty_bins,
        }


def bin_report(
    contacts: np.ndarray, bins: int = 5, beta: float = 5.0, include_non_contact: bool = True,
    edges: str = "paper",
) -> BinReport:
    """Per-bin counts and edges of the BCS binning of `contacts` (no resampling).

    With `edges="release"`, `num_participating` counts only the samples that landed in a
    bin (the release's extreme samples do not), and the edges are its float32 ones.
    """
    contacts = _as_contact_matrix(contacts)
    has_contact = contacts.any(axis=1)
    _, bin_idx, bin_edges = _bin_participants(contacts, bins, beta, include_non_contact,
                                              has_contact, edges=edges)
    return BinReport(
        edges=bin_edges,
        counts=np.bincount(bin_idx, minlength=bins).astype(np.int64),
        num_samples=int(contacts.shape[0]),
        num_non_contact=int(contacts.shape[0] - np.count_nonzero(has_contact)),
        num_participating=int(bin_idx.size),
        include_non_contact=bool(include_non_contact),
    )


def balanced_indices(
    contacts: np.ndarray,
    bins: int = 5,
    beta: float = 5.0,
    seed: int = 0,
    include_non_contact: bool = True,
    num_samples: int | None = None,
    epoch: int | None = None,
    edges: str = "paper",
    mean: np.ndarray | None = None,
) -> np.ndarray:
    """Row indices of one BCS epoch: every non-empty score bin contributes equally.

    Args:
        contacts: (N, V) bool (or 0/1) array, one row per sample.
        bins: K, the number of score bins (paper: 5).
        beta: β, the curvature of the logarithmic edges (paper: 5).
        seed: seed of the draw.
        include_non_contact: whether rows without contact are binned and drawn. True follows
            the paper's text ("both contact and non-contact samples"); the released code
            excluded them, which is `False` here. Either way they count in the mean c̄.
        num_samples: length of the result; default: the number of participating rows. Only
            with `edges="paper"`: the release's rule fixes the length itself.
        epoch: when given, the draw uses `default_rng([seed, epoch])`, so every epoch draws
            afresh yet reproducibly; None draws from `seed` alone. Epoch 0 equals None
            (NumPy's SeedSequence ignores trailing zero words), which is harmless.
        edges: "paper" (eq. 2-3, below) or "release" (the released code's binning and
            quotas, see the module docstring).
        mean: (V,) contact mean c̄ of the scores; default: the mean of all N rows. A caller
            drawing a subset (one dataset's weighted rows) passes the mean it stands for.
    Returns:
        edges="paper": (num_samples,) int64 indices into the rows of `contacts`, shuffled.
        Each non-empty bin gets num_samples // (#non-empty bins) draws, the remainder one
        extra each for the first bins. Within a bin a member appears ⌊q/n⌋ or ⌈q/n⌉ times
        (q: its quota, n: its size), so a large bin is subsampled without repeats and a
        small one oversampled evenly.
        edges="release": (K·q,) int64 indices, shuffled, q = int(mean of the K bin sizes):
        q members of every bin, without replacement from a larger bin, with replacement
        (i.i.d.) from a smaller one, every member once from a bin of exactly q.
        Either rule: an empty result when no row participates.
    Raises:
        EmptyBinError: `edges="release"` and a bin is empty (the release crashes there).
    """
    _check_edge_rule(edges)
    contacts = _as_contact_matrix(contacts)
    rng = _make_rng(seed, epoch)
    members, bin_idx, bin_edges = _bin_participants(contacts, bins, beta, include_non_contact,
                                                    edges=edges, mean=mean)
    if edges == "release":
        if num_samples is not None:
            raise ValueError("num_samples must be None with edges='release': the released "
                             "code draws K x int(mean bin size) samples, no other number")
        if bin_edges.size == 0:  # nobody to bin (e.g. no contact sample at all)
            return np.zeros(0, dtype=np.int64)
        return _release_draw(members, bin_idx, bin_edges, bins, rng)
    total = members.size if num_samples is None else _check_num_samples(num_samples)
    if members.size == 0 or total == 0:
        return np.zeros(0, dtype=np.int64)
    groups = _split_by_bin(members, bin_idx, bins)
    quotas = _equal_quotas(total, len(groups))
    drawn = [_draw_from_bin(group, q, rng) for group, q in zip(groups, quotas)]
    return rng.permutation(np.concatenate(drawn)).astype(np.int64)


def _bin_participants(
    contacts: np.ndarray,
    bins: int,
    beta: float,
    include_non_contact: bool,
    has_contact: np.ndarray | None = None,
    edges: str = "paper",
    mean: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row indices, bin of each, edges) of the rows that land in a bin.

    Edges are empty when no row takes part. Under `edges="release"` the rows its rule puts
    in no bin (the extremes) are left out of the first two arrays.
    """
    _check_bins_beta(bins, beta)
    _check_edge_rule(edges)
    # c̄: the given mean, else over all rows, non-contact ones included
    score = release_scores if edges == "release" else contact_balance_scores
    scores = score(contacts, mean)
    if include_non_contact:
        members = np.arange(contacts.shape[0], dtype=np.int64)
    else:
        if has_contact is None:
            has_contact = contacts.any(axis=1)
        members = np.flatnonzero(has_contact).astype(np.int64)
    if members.size == 0:
        return members, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    scores = scores[members]
    if edges == "release":
        bin_edges = release_bin_edges(scores.min(), scores.max(), bins, beta)
        bin_idx = assign_release_bins(scores, bin_edges)
        binned = bin_idx >= 0
        return members[binned], bin_idx[binned], bin_edges
    bin_edges = log_bin_edges(float(scores.min()), float(scores.max()), bins, beta)
    return members, assign_bins(scores, bin_edges), bin_edges


def _release_draw(members: np.ndarray, bin_idx: np.ndarray, bin_edges: np.ndarray,
                  bins: int, rng: np.random.Generator) -> np.ndarray:
    """The released code's resampling: int(mean bin size) members of every bin, shuffled."""
    counts = np.bincount(bin_idx, minlength=bins)
    quota = int(counts.mean())  # the release: int(np.mean(fold_sizes) * 1.0)
    if quota == 0:  # fewer members than bins: the release draws nothing, and says nothing
        return np.zeros(0, dtype=np.int64)
    _refuse_empty_bins(counts, bin_edges)
    groups = _split_by_bin(members, bin_idx, bins)  # all K of them: none is empty
    drawn = [_release_draw_from_bin(group, quota, rng) for group in groups]
    return rng.permutation(np.concatenate(drawn)).astype(np.int64)


def _release_draw_from_bin(group: np.ndarray, quota: int,
                           rng: np.random.Generator) -> np.ndarray:
    """`quota` members of `group` as the release draws them (np.random.choice)."""
    if group.size == quota:
        return group
    # A larger bin: a random subset; a smaller one: i.i.d. draws, so repeats are uneven.
    return rng.choice(group, size=quota, replace=group.size < quota)


def _refuse_empty_bins(counts: np.ndarray, bin_edges: np.ndarray) -> None:
    empty = np.flatnonzero(counts == 0)
    if empty.size == 0:
        return
    spans = ", ".join(f"{k} [{bin_edges[k]:.6g}, {bin_edges[k + 1]:.6g})" for k in empty)
    raise EmptyBinError(
        f"BCS with loader.bcs.edges=release: score bin(s) {spans} of {counts.size} hold no "
        f"sample (bin sizes {counts.tolist()}); the released code cannot fill an empty bin "
        "(np.random.choice over zero members raises). Use loader.bcs.edges=paper, which shares an empty bin's "
        "quota among the others, or fewer bins (loader.bcs.bins)")


def _split_by_bin(members: np.ndarray, bin_idx: np.ndarray, bins: int) -> list[np.ndarray]:
    """Members grouped by bin, in bin order, empty bins left out (their quota is shared)."""
    order = np.argsort(bin_idx, kind="stable")  # one O(N log N) pass instead of K masks
    counts = np.bincount(bin_idx, minlength=bins)
    groups = np.split(members[order], np.cumsum(counts)[:-1])
    return [g for g in groups if g.size > 0]


def _equal_quotas(total: int, num_groups: int) -> list[int]:
    """`total` split as evenly as possible; the first groups take the remainder."""
    base, extra = divmod(total, num_groups)
    return [base + (1 if i < extra else 0) for i in range(num_groups)]


def _draw_from_bin(group: np.ndarray, quota: int, rng: np.random.Generator) -> np.ndarray:
    """`quota` members of `group`, without replacement while possible.

    Equivalent to concatenating fresh permutations of the group and cutting at `quota`:
    every member ⌊quota/n⌋ times, plus a random subset of `quota mod n` members once more.
    Built directly so a one-member bin with a huge quota needs no Python loop.
    """
    full, rest = divmod(quota, group.size)
    return np.concatenate([np.tile(group, full), rng.permutation(group)[:rest]])


def _make_rng(seed: int, epoch: int | None) -> np.random.Generator:
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if epoch is None:
        return np.random.default_rng(seed)
    if not _is_int(epoch) or epoch < 0:
        raise ValueError(f"epoch must be a non-negative int or None, got {epoch!r}")
    return np.random.default_rng([seed, epoch])


def _as_contact_matrix(contacts: np.ndarray) -> np.ndarray:
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


def _check_edge_rule(edges: str) -> None:
    if edges not in EDGE_RULES:
        raise ValueError(f"edges must be one of {list(EDGE_RULES)}, got {edges!r}")


def _check_bins_beta(bins: int, beta: float) -> None:
    if not _is_int(bins) or bins < 1:
        raise ValueError(f"bins must be an int >= 1, got {bins!r}")
    if not isinstance(beta, numbers.Real) or not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be a finite number > 0 (the paper uses 5), got {beta!r}")


def _check_num_samples(num_samples: int) -> int:
    if not _is_int(num_samples) or num_samples < 0:
        raise ValueError(f"num_samples must be a non-negative int or None, got {num_samples!r}")
    return int(num_samples)


def _is_int(value: object) -> bool:
    # bool is an int subclass; `bins=True` is a mistake, not 1.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
