"""What a trial reads: the training mix, validation and test loaders, label statistics.

Dataset names in the config are the paper's (`MOW`); with `data.source=synthetic` they
resolve to the twins (`synth:MOW`), generated first when missing, with `real` to the
shards `haco data import` wrote. Label statistics (class counts at every level, the mean
contact map) come from the training shards' cached stats, never from a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from haco.data.registry import DATASETS, GROUPS, SYNTH_PREFIX, datasets_in_groups, get_dataset
from haco.data.shards import SplitReader, ensure_stats

SOURCES = ("synthetic", "real")


def dataset_names(cfg, key: str) -> list[str]:
    """The paper names `data.<key>` selects: `all` (the 14 datasets), or a list of dataset
    names and interaction groups (`[HS, HO]`: the hand-scene and hand-object datasets)."""
    value = cfg.data[key]
    if value == "all":
        return list(DATASETS) if key != "val" else dataset_names(cfg, "train")
    names: list[str] = []
    for entry in map(str, value):
        expanded = (datasets_in_groups([entry]) if entry in GROUPS
                    else [get_dataset(entry).name])  # raises on a typo, listing names
        names += [n for n in expanded if n not in names]
    return names


def source_name(cfg, name: str) -> str:
    if cfg.data.source not in SOURCES:
        raise ValueError(f"data.source must be one of {SOURCES}, got {cfg.data.source!r}")
    return f"{SYNTH_PREFIX}{name}" if cfg.data.source == "synthetic" else name


def split_dirs(cfg, names: list[str], split: str) -> dict[str, object]:
    """{source name: split directory} for `names`, generating missing twins first."""
    from haco.data.loader import specs_for

    sources = [source_name(cfg, n) for n in names]
    if cfg.data.source == "synthetic":
        ensure_twins(cfg, names)
    specs = specs_for(cfg, sources, split)
    missing = [s for s in specs if not s.split_dir.is_dir()]
    if missing:
        where = ", ".join(f"{s.name} ({s.split_dir})" for s in missing)
        raise FileNotFoundError(f"no {split} split for {where}; import it with `haco data "
                                "import` or drop it from the config")
    return {s.name: s.split_dir for s in specs}


def ensure_twins(cfg, names: list[str]) -> None:
    from omegaconf import OmegaConf

    from haco.data.synth import synthesize

    needed = OmegaConf.merge(cfg, {"data": {"twins": names}})
    synthesize(needed, progress=False)


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
