"""One pretraining sample: a twin scene rendered as the twins are (its twin's capture style
included), with targets that describe
the hand and its surroundings and never the contact labels.

    image      (S, S, 3) uint8, as a twin image
    keypoints  (84, 3) float32: the hand's 84 coarse points (haco.hand regressors), as
               image coordinates u, v in [-1, 1] and depth relative to the hand's mean
               depth in decimetres
    pose       (84, 3) float32: the same points in the hand's own frame (the scene is
               built around the hand), centred, in decimetres: the articulation, which
               the view does not change (what MANO's pose parameters describe, and what
               HaMeR's mesh recovery learns beside the camera)
    segment    (T, T) uint8 at target size T: 0 background, 1 hand, 2 anything else
    depth      (T, T) float32: depth relative to the hand's mean depth in decimetres,
               0 on background

Streams: sample i of the set uses the twins' random stream of split `pretrain` (never
`train`, `val` or `test`), so its scenes are not those of any study split.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from haco.synth.twins import TWINS, sample_rng

KEYPOINT_LEVEL = 84     # which of the hand's coarse levels the keypoints are
DEPTH_UNIT = 0.1        # metres per target depth unit: hand-scale values near 1
NEAR_MISS_SHARE = 0.3   # scenes built not touching, as the twins have some
SPLIT = "pretrain"


def twin_of(index: int):
    """Sample `index` comes from the twins in turn: every interaction type in equal measure."""
    twins = list(TWINS.values())
    return twins[index % len(twins)], index // len(twins)


def generate(index: int, seed: int, image_size: int, target_size: int) -> dict[str, np.ndarray]:
    """The sample `index` of the set of `seed`; deterministic in its arguments."""
    from haco.hand import load_hand
    from haco.synth.generate import compose_view
    from haco.synth.paint import render
    from haco.synth.raster import depth_and_ids, project
    from haco.synth.scenes import make_scene

    hand = load_hand()
    twin, k = twin_of(index)
    rng = sample_rng(twin, SPLIT, k, seed)
    scene = make_scene(hand, twin.scenario_for(k, SPLIT), rng, twin.threshold,
                       near_miss=twin.is_near_miss(k, SPLIT, NEAR_MISS_SHARE), gap=twin.gap)
    entities, camera = compose_view(scene, rng, image_size)
    image = render(entities, camera, rng, style=twin.style)
    points = hand.regressors[KEYPOINT_LEVEL] @ scene.hand_vertices
    uv, z = project(points, camera)
    centre = z.mean()
    keypoints = np.column_stack([uv / (image_size / 2) - 1, (z - centre) / DEPTH_UNIT])
    small = replace(camera, size=target_size, focal=camera.focal * target_size / image_size)
    depth, entity, _ = depth_and_ids(entities, small)
    segment = np.where(entity < 0, 0, np.where(entity == 0, 1, 2))
    relative = np.where(np.isfinite(depth), (depth - centre) / DEPTH_UNIT, 0.0)
    pose = (points - points.mean(axis=0)) / DEPTH_UNIT
    return {"image": image, "keypoints": keypoints.astype(np.float32),
            "pose": pose.astype(np.float32),
            "segment": segment.astype(np.uint8), "depth": relative.astype(np.float32)}
