"""Where the twins live on disk, and the key that names their directory.

Layout: <data root>/synth/<key>/<synth:Name>/<split>/shard-NNNNN/, where <key> hashes
everything that changes a sample (generator version, image size, sizes, seed, twin
profiles, the hand). It is its own module, importing only the profiles and the registry,
so that the catalogue (haco/data/catalogue.py) can say where a twin lives without
importing the generator.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from haco.config import digest
from haco.data.registry import DATASETS
from haco.paths import data_root
from haco.synth import GENERATOR_VERSION
from haco.synth.twins import TWINS, TwinProfile, get_twin


def selected_twins(cfg) -> list[TwinProfile]:
    names = cfg.data.twins
    if names == "all":
        return list(TWINS.values())
    return [get_twin(str(n)) for n in names]


def split_sizes(cfg, twin: TwinProfile) -> dict[str, int]:
    """Twin sizes scale with the square root of the real training set (after its stride),
    so the big video datasets stay big without drowning the small ones."""
    d = cfg.data
    info = DATASETS[twin.dataset]
    train = round(d.twin_scale * math.sqrt(info.images / info.train_stride))
    sizes = {"train": int(np.clip(train, d.twin_min, d.twin_max)), "val": int(d.val_size)}
    if info.is_test_set:
        sizes["test"] = int(d.test_size)
    return sizes


def cache_key(cfg, twins: list[TwinProfile]) -> str:
    recipe = {
        "version": GENERATOR_VERSION, "seed": int(cfg.data.seed), "image_size": int(cfg.data.image_size),
        "twins": {t.name: [t.as_dict(), split_sizes(cfg, t)] for t in twins},
        "mano": cfg.hand.mano_path,
    }
    return digest(recipe)


def synth_dir(cfg) -> Path:
    # The key covers all twins so that every twin of a profile lives in one directory,
    # whichever subset a command asks for.
    return data_root(cfg.data.root) / "synth" / cache_key(cfg, list(TWINS.values()))


def split_dir(cfg, twin_name: str, split: str) -> Path:
    return synth_dir(cfg) / twin_name / split
