"""What a trial learns from its splits before training: label statistics.

Which splits a trial reads and where they live is the catalogue's (haco/data/catalogue.py).
Label statistics (class counts at every level, the mean contact map) come from the
training shards' cached stats, never from a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from haco.data.shards import SplitReader, ensure_stats


@dataclass
class LabelStats:
    counts: dict[int, np.ndarray]  # level -> (2, L) class counts (non-contact, contact)
    contact_mean: np.ndarray        # (778,) per-vertex contact frequency of the training mix
    samples: int


def label_stats(split_dirs: list, regressors: dict[int, np.ndarray]) -> LabelStats:
    """Class counts at every level and the mean contact map over all training splits."""
    from haco.losses.levels import level_counts

    chunks = (SplitReader(d).contacts_matrix() for d in split_dirs)
    counts = level_counts(chunks, regressors)
    samples = int(sum(ensure_stats(d)["num_samples"] for d in split_dirs))
    return LabelStats(counts, counts[778][1] / max(samples, 1), samples)


def imbalance_metrics(split_dirs: dict[str, object]) -> dict[str, float]:
    """`data/<dataset>/noncontact_ratio` (vertex level, from the cached split statistics)
    of every training set: Table 1's measured class imbalance, logged with each run."""
    return {f"data/{name.split(':')[-1]}/noncontact_ratio":
            float(ensure_stats(d)["noncontact_ratio"]) for name, d in split_dirs.items()}


def contact_means(split_dirs: dict[str, object]) -> dict[str, np.ndarray]:
    """{dataset: (778,) mean contact map} of every training set (Figure 1's heatmaps)."""
    return {name.split(":")[-1]: dataset_mean(d) for name, d in split_dirs.items()}


def dataset_mean(split_dir) -> np.ndarray:
    """One dataset's mean contact map (contact init `mean`, Table A1)."""
    return np.asarray(ensure_stats(split_dir)["contact_mean"], dtype=np.float64)
