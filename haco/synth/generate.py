"""`haco data synth`: render the synthetic twins into shards, in parallel, resumably.

Where they go is haco/synth/layout.py's (<data root>/synth/<key>/<synth:Name>/<split>/).
A finished shard is never rewritten, so a second run costs seconds and an interrupted one
resumes where it stopped. `ensure` is the one call that generates on behalf of others: a
launch makes its trials' twins with it once up front, `run(cfg)` once at its start.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from haco import disk
from haco.atomic import write_json
from haco.data import integrity, shards
from haco.synth import GENERATOR_VERSION
from haco.synth.layout import selected_twins, split_sizes, synth_dir
from haco.synth.twins import Calibration, TwinProfile, calibrate, get_twin, sample_rng
from haco.workers import WorkerPool, worker_pool

BUILD_RECORD = "build.json"  # seconds and samples of the last build that generated any
SKIN_TONES = np.array([[0.95, 0.80, 0.69], [0.88, 0.69, 0.56], [0.76, 0.57, 0.45],
                       [0.55, 0.38, 0.28], [0.40, 0.27, 0.20]])


@dataclass(frozen=True)
class Unit:
    """One shard of one split of one twin: the unit of work, atomic write and resume."""

    twin: str
    split: str
    shard: int
    start: int
    stop: int


# --------------------------------------------------------------------------- one sample


MIN_VISIBLE = 0.5  # share of the hand's own pixels that other entities may not hide
VIEW_TRIES = 8


def _visible_share(entities, camera) -> float:
    """Hand pixels in the scene / hand pixels with the hand alone, on a small z-buffer."""
    from dataclasses import replace

    from haco.synth.raster import depth_and_ids

    small = replace(camera, size=32, focal=camera.focal * 32 / camera.size)
    alone = (depth_and_ids(entities[:1], small)[1] == 0).sum()
    seen = (depth_and_ids(entities, small)[1] == 0).sum()
    return seen / max(alone, 1)


def render_view(scene, rng: np.random.Generator, size: int, style=None) -> np.ndarray:
    """A hand-centred crop from a random direction: skin-coloured hand, textured bodies, in
    a capture style (haco.synth.capture; None: the renderer's neutral one)."""
    from haco.synth.capture import NEUTRAL
    from haco.synth.paint import render

    entities, camera = compose_view(scene, rng, size)
    return render(entities, camera, rng, style=style or NEUTRAL)


def compose_view(scene, rng: np.random.Generator, size: int):
    """(entities, camera) of a view of `scene`: the hand (entity 0) skin-coloured, the
    bodies textured, a hand-centred camera from a random direction.

    Views where the bodies hide most of the hand (a camera under the table) are drawn
    again: contact must be inferable from the pixels.
    """
    from haco.hand import load_hand
    from haco.synth.raster import TEXTURES, Entity, hand_centred_camera

    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.1)
    entities = [Entity(scene.hand_vertices, load_hand().faces, tuple(np.clip(skin, 0, 1)),
                       is_hand=True)]
    for body in scene.bodies:
        entities.append(Entity(body.vertices, body.faces, tuple(rng.uniform(0.1, 0.95, 3)),
                               texture=TEXTURES[rng.integers(len(TEXTURES))],
                               texture_scale=rng.uniform(0.01, 0.05)))
    for _ in range(VIEW_TRIES):
        view = rng.normal(size=3)
        view /= np.linalg.norm(view)
        up = np.cross(view, rng.normal(size=3))  # any direction across the view
        camera = hand_centred_camera(scene.hand_vertices, view, size,
                                     fill=rng.uniform(0.7, 0.9), up=up)
        if _visible_share(entities, camera) >= MIN_VISIBLE:
            break
    return entities, camera


def generate_sample(twin: TwinProfile, split: str, index: int, seed: int, image_size: int,
                    non_contact_share: float):
    """(image, contacts, vertices, scenario) of one sample; deterministic in its arguments."""
    from haco.hand import load_hand
    from haco.synth.scenes import make_scene

    rng = sample_rng(twin, split, index, seed)
    scenario = twin.scenario_for(index, split)
    near_miss = twin.is_near_miss(index, split, non_contact_share)
    scene = make_scene(load_hand(), scenario, rng, twin.threshold, near_miss=near_miss,
                       gap=twin.gap)
    image = render_view(scene, rng, image_size, twin.style)
    return image, scene.contacts, scene.hand_vertices.astype(np.float32), scenario


# --------------------------------------------------------------------------- the command


def _calibrate(twin_name: str, train_size: int, seed: int) -> tuple[str, dict]:
    from haco.hand import load_hand

    return twin_name, asdict(calibrate(get_twin(twin_name), load_hand(), train_size, seed=seed))


def _write_unit(unit: Unit, root: str, seed: int, image_size: int, share: float) -> int:
    twin = get_twin(unit.twin)
    samples = [generate_sample(twin, unit.split, i, seed, image_size, share)
               for i in range(unit.start, unit.stop)]
    images, contacts, vertices, scenarios = zip(*samples)
    meta = {"dataset": twin.name, "split": unit.split, "group": twin.group,
            "ids": [f"{twin.name}/{unit.split}/{i:06d}-{s}" for i, s in
                    zip(range(unit.start, unit.stop), scenarios)]}
    split_dir = Path(root) / unit.twin / unit.split
    needed = disk.ShardSizes(image_size).shards(unit.stop - unit.start, 1)
    with disk.on_full(split_dir / shards.shard_name(unit.shard), needed):
        shards.write_shard(split_dir, unit.shard, np.stack(images), np.stack(contacts),
                           np.stack(vertices), meta)
    return unit.stop - unit.start


def plan(cfg, twins: list[TwinProfile]) -> list[Unit]:
    units = []
    size = int(cfg.data.shard_size)
    for twin in twins:
        for split, n in split_sizes(cfg, twin).items():
            for k, start in enumerate(range(0, n, size)):
                units.append(Unit(twin.name, split, k, start, min(start + size, n)))
    return units


def bytes_needed(units: list[Unit], image_size: int) -> int:
    """Disk bytes the shards of `units` take (the ones still to write: a resumed build
    needs only the rest)."""
    splits = len({(u.twin, u.split) for u in units})
    return disk.ShardSizes(image_size).shards(sum(u.stop - u.start for u in units),
                                              len(units), splits)


def missing_units(root: Path, units: list[Unit]) -> list[Unit]:
    return [u for u in units
            if u.shard not in shards.completed_shards(root / u.twin / u.split)]


def load_calibrations(cfg, root: Path, twins, pool: WorkerPool) -> dict[str, Calibration]:
    """Per-twin calibration, cached in <root>/<twin>/calibration.json."""
    seed = int(cfg.data.seed)
    found, missing = {}, []
    for twin in twins:
        path = root / twin.name / "calibration.json"
        if path.is_file():
            found[twin.name] = Calibration(**json.loads(path.read_text()))
        else:
            missing.append(twin.name)
    sizes = [split_sizes(cfg, get_twin(name))["train"] for name in missing]
    for name, result in pool.map(_calibrate, missing, sizes, [seed] * len(missing)):
        write_json(root / name / "calibration.json", result)
        found[name] = Calibration(**result)
    return found


def synthesize(cfg, progress: bool = True) -> Path:
    """Generate every missing shard of the selected twins; return the synth directory."""
    from tqdm import tqdm

    twins = selected_twins(cfg)
    root = synth_dir(cfg)
    units = plan(cfg, twins)
    disk.require(root, bytes_needed(missing_units(root, units), int(cfg.data.image_size)))
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / "recipe.json", {"profile": cfg.profile, "image_size": cfg.data.image_size,
                                      "seed": cfg.data.seed, "version": GENERATOR_VERSION})
    for twin in twins:
        for split in split_sizes(cfg, twin):
            shards.clean_partials(root / twin.name / split)
            drop_corrupt(root / twin.name / split)
    todo = missing_units(root, units)
    workers = int(cfg.data.workers or os.cpu_count() or 1)
    total = sum(u.stop - u.start for u in units)
    remaining = sum(u.stop - u.start for u in todo)
    started = time.perf_counter()
    with worker_pool(workers) as pool:  # stopped with the command: Ctrl-C, SIGTERM, disk full
        calibrations = load_calibrations(cfg, root, twins, pool)
        bar = tqdm(total=total, initial=total - remaining, unit="img", disable=not progress,
                   desc=f"synth {cfg.profile} ({workers} workers)")
        tasks = [(u, str(root), int(cfg.data.seed), int(cfg.data.image_size),
                  calibrations[u.twin].non_contact_share) for u in todo]
        try:
            for done in pool.each_completed(_write_unit, tasks):
                bar.update(done)
        finally:
            bar.close()
    for twin in twins:
        for split in split_sizes(cfg, twin):
            if remaining or integrity.manifest(root / twin.name / split) is None:
                integrity.seal(root / twin.name / split)
            shards.ensure_stats(root / twin.name / split)
    if remaining:  # what this build cost, for `haco bench budgets`
        write_json(root / BUILD_RECORD, {"seconds": time.perf_counter() - started,
                                         "samples": remaining, "of": total,
                                         "workers": workers})
    return root


def drop_corrupt(split_dir: Path) -> list[str]:
    """Delete the twin shards that fail their digests (truncated, overwritten, files
    missing), with a warning, so this build makes them again: a twin shard is a
    deterministic function of its recipe and index. Returns their names."""
    dropped = []
    for index in shards.completed_shards(split_dir):
        shard = split_dir / shards.shard_name(index)
        reason = integrity.problem(shard)
        if reason:
            warnings.warn(f"twin shard {shard} is corrupt ({reason}): regenerating it",
                          stacklevel=2)
            shutil.rmtree(shard)
            (split_dir / shards.STATS_FILE).unlink(missing_ok=True)
            dropped.append(shard.name)
    return dropped


def ensure(cfg, names: list[str], progress: bool = False) -> Path:
    """Generate whatever is missing of the twins of `names` (paper names like `MOW`, or
    `synth:MOW`): the explicit call a launch and `run(cfg)` make before they read twins.
    A second call finds every shard done and generates nothing."""
    return synthesize(twins_config(cfg, names), progress)


def twins_config(cfg, names: list[str]):
    return OmegaConf.merge(cfg, {"data": {"twins": list(names)}})


def pending_bytes(cfg, names: list[str]) -> tuple[Path, int]:
    """(the synth directory, the disk bytes `ensure(cfg, names)` would write there)."""
    cfg = twins_config(cfg, names)
    root = synth_dir(cfg)
    units = missing_units(root, plan(cfg, selected_twins(cfg)))
    return root, bytes_needed(units, int(cfg.data.image_size))


def synth_command(cfg) -> int:
    started = time.perf_counter()
    root = synthesize(cfg)
    print(f"twins ready in {root} ({time.perf_counter() - started:.1f} s)")
    return 0
