"""The pretraining set: `pretrain.samples` twin images with hand targets, on disk.

Layout: <data root>/pretrain/<key>/shard-NNNNN.npz and recipe.json, where <key> hashes
everything that changes a sample (generator versions, seed, sizes, the twins' profiles,
the hand). A shard is written atomically and never rewritten, so a second build costs
nothing and a killed one resumes where it stopped; `recipe.json` is written last and
marks the set complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from haco import disk
from haco.atomic import write_json, write_npz
from haco.config import digest
from haco.paths import data_root
from haco.workers import worker_pool

SET_VERSION = 2          # bump when samples.py changes what a sample is
SHARD = "shard-{:05d}.npz"
RECIPE = "recipe.json"
FIELDS = ("image", "keypoints", "pose", "segment", "depth")


def recipe(cfg) -> dict:
    """What decides the set's bytes."""
    from haco.synth import GENERATOR_VERSION
    from haco.synth.twins import TWINS

    p = cfg.pretrain
    return {"version": SET_VERSION, "generator": GENERATOR_VERSION, "seed": int(p.seed),
            "samples": int(p.samples), "image_size": int(cfg.data.image_size),
            "target_size": int(p.target_size), "shard_size": int(p.shard_size),
            "twins": {t.name: t.as_dict() for t in TWINS.values()},
            "mano": cfg.hand.mano_path}


def set_key(cfg) -> str:
    return digest(recipe(cfg))


def set_dir(cfg) -> Path:
    return data_root(cfg.data.root) / "pretrain" / set_key(cfg)


def shard_ranges(samples: int, shard_size: int) -> list[tuple[int, int]]:
    """[(start, stop)] of every shard's samples."""
    return [(start, min(start + shard_size, samples)) for start in range(0, samples, shard_size)]


def _write_shard(path: str, start: int, stop: int, seed: int, image_size: int,
                 target_size: int) -> int:
    from haco.pretrain.samples import generate

    samples = [generate(i, seed, image_size, target_size) for i in range(start, stop)]
    with disk.on_full(path, shard_bytes(stop - start, image_size, target_size)):
        write_npz(path, {f: np.stack([s[f] for s in samples]) for f in FIELDS})
    return stop - start


def shard_bytes(samples: int, image_size: int, target_size: int) -> int:
    """Disk bytes of one shard file of `samples` samples (npz headers in the margin)."""
    payload = samples * disk.pretrain_sample_bytes(image_size, target_size)
    return int(disk.on_disk(payload) * disk.MARGIN)


def bytes_needed(root: Path, ranges: list[tuple[int, int]], image_size: int,
                 target_size: int) -> int:
    """Disk bytes of the shards under `root` not written yet."""
    return sum(shard_bytes(b - a, image_size, target_size)
               for k, (a, b) in enumerate(ranges) if not (root / SHARD.format(k)).is_file())


def pending_bytes(cfg) -> int:
    """Disk bytes `build_set(cfg)` would still write (0 for a complete set)."""
    root = set_dir(cfg)
    if (root / RECIPE).is_file():
        return 0
    ranges = shard_ranges(int(cfg.pretrain.samples), int(cfg.pretrain.shard_size))
    return bytes_needed(root, ranges, int(cfg.data.image_size), int(cfg.pretrain.target_size))


def build_set(cfg, progress: bool = True) -> Path:
    """Every missing shard, in parallel (`data.workers` processes); the set's directory."""
    from tqdm import tqdm

    root = set_dir(cfg)
    if (root / RECIPE).is_file():
        return root
    ranges = shard_ranges(int(cfg.pretrain.samples), int(cfg.pretrain.shard_size))
    image_size, target_size = int(cfg.data.image_size), int(cfg.pretrain.target_size)
    disk.require(root, pending_bytes(cfg))
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".*.partial-*"):  # left by a killed build
        stale.unlink()
    todo = [(k, r) for k, r in enumerate(ranges) if not (root / SHARD.format(k)).is_file()]
    total = int(cfg.pretrain.samples)
    workers = int(cfg.data.workers or os.cpu_count() or 1)
    bar = tqdm(total=total, initial=total - sum(b - a for _, (a, b) in todo), unit="img",
               disable=not progress, desc=f"pretraining set ({workers} workers)")
    tasks = [(str(root / SHARD.format(k)), a, b, int(cfg.pretrain.seed), image_size,
              target_size) for k, (a, b) in todo]
    try:
        with worker_pool(workers) as pool:  # stopped with the command: Ctrl-C, SIGTERM, disk full
            for done in pool.each_completed(_write_shard, tasks):
                bar.update(done)
    finally:
        bar.close()
    write_json(root / RECIPE, recipe(cfg))
    return root


def load_set(root: Path) -> dict[str, np.ndarray]:
    """{field: array over every shard, in sample order} of a complete set."""
    root = Path(root)
    if not (root / RECIPE).is_file():
        raise FileNotFoundError(f"{root} is not a complete pretraining set; build it with "
                                "`haco pretrain`")
    saved = json.loads((root / RECIPE).read_text())
    count = len(shard_ranges(saved["samples"], saved["shard_size"]))
    parts = [np.load(root / SHARD.format(k)) for k in range(count)]
    return {f: np.concatenate([p[f] for p in parts]) for f in FIELDS}
