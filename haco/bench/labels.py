"""`haco bench labels`: the paper's trimesh contact labels against haco's fast exact method.

Scene: the template hand (778 vertices) with its palm pressed 5 mm into a 20,480-face
icosphere of radius 4 cm, about the size of a grasped object. Both methods are timed in the
same process, best of `repeats`, each call building everything from the raw arrays (trimesh's
r-tree, haco's KD-trees): labelling a new frame always pays for its own indices.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from haco.labels import contact_labels

SPHERE_RADIUS = 0.04  # metres: a grasped object the size of a small ball or a mug
SPHERE_SUBDIVISIONS = 5  # 20,480 faces, as dense as a scanned YCB object
# Metres the sphere sinks into the palm: a firm grasp. The template hand is flat, so only
# the palm touches the ball; at 5 mm about 6% of the vertices are in contact (3 mm: 5.5%).
PRESS_DEPTH = 0.005


def compare_methods(hand_vertices, mesh, threshold: float, repeats: int) -> dict:
    """Time `method="trimesh"` and `method="fast"` on one scene and compare their labels.

    Args:
        hand_vertices: (778, 3) metres. mesh: Trimesh or (vertices, faces), metres.
        threshold: contact threshold in metres. repeats: timed calls per method (>= 1).

    Returns:
        dict with `trimesh_ms`, `fast_ms` (best call, milliseconds), `speedup`
        (trimesh_ms / fast_ms), `differing` (labels that disagree), `contacts` (vertices in
        contact per the reference), `vertices` (778) and `faces`.
    """
    if int(repeats) < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    # Plain arrays, not a Trimesh: a Trimesh would cache its r-tree between trimesh calls.
    vertices, faces = mesh if isinstance(mesh, tuple) else (mesh.vertices, mesh.faces)
    vertices, faces = np.array(vertices, dtype=np.float64), np.array(faces)
    times, labels = {}, {}
    for method in ("trimesh", "fast"):
        best = float("inf")
        for _ in range(int(repeats)):
            start = time.perf_counter()
            labels[method] = contact_labels(hand_vertices, (vertices, faces), threshold, method)
            best = min(best, time.perf_counter() - start)
        times[method] = best * 1e3
    return {
        "trimesh_ms": times["trimesh"],
        "fast_ms": times["fast"],
        "speedup": times["trimesh"] / times["fast"],
        "differing": int((labels["trimesh"] != labels["fast"]).sum()),
        "contacts": int(labels["trimesh"].sum()),
        "vertices": len(labels["trimesh"]),
        "faces": len(faces),
    }


def palm_scene(hand_vertices: np.ndarray):
    """Icosphere pressed `PRESS_DEPTH` into the palm of a hand in the template frame.

    The template hand has its wrist at the origin, fingers along +y and the palm facing -z.
    The palm centre is the mean (x, y) of the palm band (20-50% of the hand's length from
    the wrist, before the fingers), keeping only the wrist's width in x so that the thumb,
    which sticks out sideways and down, does not pull it; its z is the lowest skin within
    15 mm of that centre. The sphere hangs below, its top `PRESS_DEPTH` above the skin.
    """
    import trimesh

    x, y = hand_vertices[:, 0], hand_vertices[:, 1]
    length = y.max() - y.min()
    wrist = hand_vertices[y < y.min() + 0.1 * length]
    band = hand_vertices[
        (y > y.min() + 0.2 * length)
        & (y < y.min() + 0.5 * length)
        & (x >= wrist[:, 0].min())
        & (x <= wrist[:, 0].max())
    ]
    centre = band[:, :2].mean(axis=0)
    skin = band[np.linalg.norm(band[:, :2] - centre, axis=1) < 0.015]
    palm = np.array([centre[0], centre[1], skin[:, 2].min()])
    sphere = trimesh.creation.icosphere(subdivisions=SPHERE_SUBDIVISIONS, radius=SPHERE_RADIUS)
    sphere.apply_translation(palm - np.array([0.0, 0.0, SPHERE_RADIUS - PRESS_DEPTH]))
    return sphere


def bench_command(cfg) -> int:
    """Entry point of `haco bench labels` (config: haco/conf/bench_labels.yaml)."""
    from haco.hand import load_hand

    hand = np.asarray(load_hand().vertices, dtype=np.float64)
    sphere = palm_scene(hand)
    threshold, repeats = float(cfg.threshold), int(cfg.repeats)
    result = compare_methods(hand, sphere, threshold, repeats)
    share = result["contacts"] / result["vertices"]
    print(
        f"contact labels: {result['vertices']} hand vertices vs a {result['faces']}-face "
        f"icosphere (r = {SPHERE_RADIUS * 1e3:.0f} mm) pressed {PRESS_DEPTH * 1e3:.0f} mm into "
        f"the palm; threshold {threshold * 1e3:g} mm; best of {repeats}"
    )
    print(f"  trimesh (paper)  {result['trimesh_ms']:9.1f} ms")
    print(f"  fast (exact)     {result['fast_ms']:9.1f} ms")
    print(f"  speedup          {result['speedup']:9.1f}x")
    print(f"  contacts         {result['contacts']:5d} / {result['vertices']} ({share:.1%})")
    print(f"  differing labels {result['differing']:5d}")
    if result["differing"]:
        # Only vertices within rounding error of the threshold may differ; on this scene
        # none is, so any difference is a bug in haco.labels: fail the command.
        print("  ERROR: the fast method disagrees with the reference", file=sys.stderr)
        return 1
    return 0
