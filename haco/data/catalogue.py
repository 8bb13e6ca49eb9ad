"""Where each dataset split lives, whether it is there, and which splits a trial reads.

Dataset names in the config are the paper's (`MOW`). With `data.source=synthetic` a trial
reads their twins (`synth:MOW`), which live where haco/synth/layout.py puts them
(<data root>/synth/<key>/<synth:Name>/<split>); with `real`, the shards `haco data import`
wrote to <data root>/real/<dataset>/<split>.

A lookup here never creates anything: a missing split is a `MissingSplitError` naming the
split, its path and the command that makes it. Twins are generated only by an explicit
call (`haco.synth.generate.ensure`), which a launch makes once up front
(haco/sweep/prepare.py) and `run(cfg)` once at its start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from haco.data.registry import DATASETS, GROUPS, SYNTH_PREFIX, datasets_in_groups, get_dataset
from haco.paths import data_root
from haco.synth.layout import split_dir as twin_split_dir

SOURCES = ("synthetic", "real")

# The split a trial reads in each role: data.train, data.val and data.test name the
# datasets of the first three; `init` is model.init=mean's model.init_dataset, whose mean
# contact map starts the head.
ROLE_SPLITS = {"train": "train", "val": "val", "test": "test", "init": "train"}


class MissingSplitError(FileNotFoundError):
    """A split a lookup needs is not on disk; the message says how to make it."""


# ---------------------------------------------------------------------------- names


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
    """`synth:MOW` for a paper name under `data.source=synthetic`, `MOW` under `real`."""
    if cfg.data.source not in SOURCES:
        raise ValueError(f"data.source must be one of {SOURCES}, got {cfg.data.source!r}")
    return f"{SYNTH_PREFIX}{name}" if cfg.data.source == "synthetic" else name


# ---------------------------------------------------------------------------- places


def real_dir(cfg, name: str) -> Path:
    """<data root>/real/<dataset>: where `haco data import` writes a real dataset's splits
    (and their import reports)."""
    return data_root(cfg.data.root) / "real" / get_dataset(name).name


def real_split_dir(cfg, name: str, split: str) -> Path:
    return real_dir(cfg, name) / split


def split_dir(cfg, source: str, split: str) -> Path:
    """Where `source` (a twin `synth:MOW` or a real `MOW`) keeps `split`; maybe absent."""
    get_dataset(source)  # raises, listing the known names, on a typo
    if source.startswith(SYNTH_PREFIX):
        return twin_split_dir(cfg, source, split)
    return real_split_dir(cfg, source, split)


def exists(cfg, source: str, split: str) -> bool:
    return split_dir(cfg, source, split).is_dir()


def how_to_make(cfg, source: str, split: str) -> str:
    """The command that makes a missing split, as advice."""
    name = get_dataset(source).name
    root = f" data.root={cfg.data.root}" if cfg.data.root else ""
    if source.startswith(SYNTH_PREFIX):
        return (f"generate it with `haco data synth profile={cfg.profile} data.twins=[{name}]"
                f"{root}` (and this config's other data.* overrides)")
    return (f"import it with `haco data import dataset={name} split={split} "
            f"input=<its records directory> profile={cfg.profile}{root}`")


def split_dirs(cfg, names: list[str], split: str) -> dict[str, Path]:
    """{source name: split directory} of the paper names `names` under `data.source`;
    MissingSplitError, naming each missing one, if any is not on disk."""
    check(cfg, {split: names})
    return {source: split_dir(cfg, source, split)
            for source in (source_name(cfg, n) for n in names)}


def check(cfg, wanted: dict[str, list[str]]) -> None:
    """MissingSplitError listing every missing split of `wanted` ({split: paper names})
    with its path and the command that makes it; nothing when all are there."""
    lines = []
    for split, names in wanted.items():
        for source in (source_name(cfg, n) for n in names):
            if not exists(cfg, source, split):
                lines.append(f"no {split} split for {source} at {split_dir(cfg, source, split)}: "
                             f"{how_to_make(cfg, source, split)}, or drop it from the config")
    if lines:
        raise MissingSplitError("\n".join(lines))


# ---------------------------------------------------------------------------- a trial


def reads(cfg) -> dict[str, list[str]]:
    """{split: paper names} of everything a trial of `cfg` reads: data.train, data.val and
    data.test, and for model.init=mean the train split of model.init_dataset."""
    out: dict[str, list[str]] = {split: [] for split in ("train", "val", "test")}
    for role, names in _roles(cfg).items():
        split = ROLE_SPLITS[role]
        out[split] += [n for n in names if n not in out[split]]
    return out


def twins_read(cfg) -> list[str]:
    """The paper names of the twins a trial of `cfg` reads (none when it reads real data):
    what `haco.synth.generate.ensure` must make before the trial starts."""
    if cfg.data.source != "synthetic":
        return []
    return sorted({name for names in reads(cfg).values() for name in names})


@dataclass(frozen=True)
class TrialSplits:
    """The split directories one trial reads, by role: {source name: directory} each."""

    train: dict[str, Path]   # the training mix
    val: dict[str, Path]     # validated every epoch; empty with data.val=[]
    test: dict[str, Path]    # each tested at the end
    init: dict[str, Path]    # model.init=mean: model.init_dataset's train split; else empty


def trial_splits(cfg) -> TrialSplits:
    """Every split a trial of `cfg` reads, checked at once: one MissingSplitError lists
    all that are missing, before the trial builds anything."""
    check(cfg, reads(cfg))
    return TrialSplits(**{role: split_dirs(cfg, names, ROLE_SPLITS[role])
                          for role, names in _roles(cfg).items()})


def _roles(cfg) -> dict[str, list[str]]:
    """{role: paper names} (roles: ROLE_SPLITS)."""
    names = {key: dataset_names(cfg, key) for key in ("train", "val", "test")}
    names["init"] = [str(cfg.model.init_dataset)] if cfg.model.init == "mean" else []
    return names
