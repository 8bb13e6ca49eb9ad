"""`haco bench synth`: synthetic samples per second on one core, per interaction group.

Scene building (posing, grasp closing, placement, exact labels) and rendering are timed
separately, in this one process, so the two costs of a twin sample can be compared.
"""

from __future__ import annotations

import time

import numpy as np

from haco.hand import load_hand
from haco.synth.generate import render_view
from haco.synth.scenes import make_scene
from haco.synth.twins import TWINS, sample_rng


def time_group(twins, samples: int, image_size: int) -> dict:
    """Build and render `samples` scenes cycling through the group's twins."""
    hand = load_hand()
    build = draw = 0.0
    for i in range(samples):
        twin = twins[i % len(twins)]
        rng = sample_rng(twin, "train", 10_000 + i, 0)
        start = time.perf_counter()
        scene = make_scene(hand, twin.scenario_for(i, "train"), rng, twin.threshold,
                           gap=twin.gap)
        middle = time.perf_counter()
        render_view(scene, rng, image_size)
        build += middle - start
        draw += time.perf_counter() - middle
    return {"scene_ms": 1e3 * build / samples, "render_ms": 1e3 * draw / samples,
            "samples_per_s": samples / (build + draw)}


def bench_command(cfg) -> int:
    load_hand()  # build the hand once, outside the timings
    size = int(cfg.data.image_size)
    print(f"synthetic samples on one core ({cfg.profile} profile, {size} px, "
          f"{cfg.samples} samples per group)")
    print(f"  {'group':5} {'scene ms':>9} {'render ms':>10} {'samples/s':>10}")
    rates = []
    for group in ("HO", "HH", "HS", "HB"):
        twins = [t for t in TWINS.values() if t.group == group]
        r = time_group(twins, int(cfg.samples), size)
        rates.append(r["samples_per_s"])
        print(f"  {group:5} {r['scene_ms']:9.1f} {r['render_ms']:10.1f} {r['samples_per_s']:10.1f}")
    print(f"  mean {np.mean(rates):.1f} samples/s per core")
    return 0
