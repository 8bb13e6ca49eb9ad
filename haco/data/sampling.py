"""Balanced Contact Sampling (BCS), section 3.2 of the paper: one epoch's draw.

A hand contact dataset is dominated by samples with little or no contact. BCS scores every
sample by how far its contact deviates from the dataset-wide mean (eq. 1), groups the scores
into K bins with logarithmic edges (eq. 2, 3; the equations are haco/data/bcs.py), and
resamples so that every bin contributes the same number of samples to an epoch.

- `balanced_indices`: the stratified resampling that yields an epoch's sample indices;
- `bin_report`: per-bin counts and edges, before any resampling.

Two edge rules (`edges=`, the config's `loader.bcs.edges`):
- "paper" (default): eq. 2-3 as stated; every participating sample lands in a bin, and an
  epoch gives every non-empty bin an equal share of `num_samples`.
- "release": the authors' released code's scores, edges and bins (haco/data/bcs.py). Each
  bin then yields int(mean bin size) samples (drawn without replacement from a larger
  bin, with replacement from a smaller one, all of an equal one), so the epoch has
  K·int(mean bin size) samples; an empty bin is an `EmptyBinError` (the release crashes),
  except when that mean is below 1: then nothing is drawn, as in the release.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from haco.config import ConfigError
from haco.data.bcs import (
    as_contact_matrix,
    assign_bins,
    assign_release_bins,
    check_bins_beta,
    contact_balance_scores,
    is_int,
    log_bin_edges,
    release_bin_edges,
    release_scores,
)

# The edge rules of `balanced_indices(edges=...)` (config `loader.bcs.edges`).
EDGE_RULES = ("paper", "release")


class EmptyBinError(ConfigError):
    """A score bin without samples under `edges="release"`, which cannot fill it (the
    released code fails there: np.random.choice over zero members). A ConfigError (so a
    ValueError): this data cannot be balanced that way, and the message says what to set."""


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
    contacts = as_contact_matrix(contacts)
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
    contacts = as_contact_matrix(contacts)
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
    check_bins_beta(bins, beta)
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
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if epoch is None:
        return np.random.default_rng(seed)
    if not is_int(epoch) or epoch < 0:
        raise ValueError(f"epoch must be a non-negative int or None, got {epoch!r}")
    return np.random.default_rng([seed, epoch])


def _check_edge_rule(edges: str) -> None:
    if edges not in EDGE_RULES:
        raise ValueError(f"edges must be one of {list(EDGE_RULES)}, got {edges!r}")


def _check_num_samples(num_samples: int) -> int:
    if not is_int(num_samples) or num_samples < 0:
        raise ValueError(f"num_samples must be a non-negative int or None, got {num_samples!r}")
    return int(num_samples)
