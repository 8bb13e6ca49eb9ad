"""Per-vertex hand contact labels, exactly as the paper computes them, plus a fast exact twin.

A hand vertex is *in contact* when the Euclidean distance from it to the closest point on
the surface of the other mesh (object, other hand, scene, body) is strictly below a
per-dataset threshold in metres (`THRESHOLDS`). The paper measures that distance with
`trimesh.proximity.ProximityQuery(mesh).on_surface(points)`; `method="trimesh"` runs exactly
that. It computes the full closest point for every vertex (over a second for a 778-vertex
hand against a 20k-face mesh), although a label only needs "closer than the threshold?".

`method="fast"` answers that yes/no question exactly, with cheap conservative culls first:

1. faces whose bounding box, grown by the threshold, misses the hand's box cannot be within
   the threshold of any hand vertex: dropped;
2. a hand vertex whose nearest mesh corner is closer than the threshold is in contact, since
   the corner lies on the surface (early accept, one KD-tree query);
3. a point within `thr` of a triangle is within `thr + R` of its centroid (R: the largest
   centroid-to-corner distance), so KD-trees over centroids give every candidate pair.
   Triangles are bucketed by R (powers of two) so that a few huge triangles (a 10 m ground
   plane) do not inflate the search radius of thousands of small ones;
4. the exact squared point-triangle distance (float64) is evaluated on the surviving pairs.

Steps 1-3 only discard pairs that provably cannot be closer than the threshold, and step 4 is
exact, so the labels equal the reference's except where the true distance lies within
rounding error (far below 1e-6 m) of the threshold.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from haco.hand.model import NUM_VERTICES

if TYPE_CHECKING:
    import trimesh

# Number of vertices of the MANO hand mesh; every label vector has this length.
NUM_HAND_VERTICES = NUM_VERTICES

# Marks datasets whose contact labels ship with the data instead of being computed here.
PROVIDED = "provided"

# Contact thresholds of the paper in metres, per dataset (dataset names as in docs/design.md).
THRESHOLDS: dict[str, float | str] = {
    "ObMan": 0.01,
    "DexYCB": 0.01,
    "MOW": 0.035,  # MOW's reconstructed objects are coarse, hence a looser threshold
    "HO3D": 0.01,
    "H2O3D": 0.01,
    "ARCTIC": 0.01,
    "HOI4D": 0.01,
    "H2O": 0.01,
    "InterHand2.6M": 0.005,  # hand-hand contact: two accurate MANO meshes, tighter threshold
    "HIC": 0.005,
    "PROX": 0.01,
    "RICH": PROVIDED,
    "Decaf": PROVIDED,
    "Hi4D": PROVIDED,
}

METHODS = ("fast", "trimesh")

# A face whose height (2 * area / longest edge) is below this fraction of its longest edge
# is treated as a segment. Below it, the face's normal is dominated by rounding error; above
# it, ignoring the interior would misplace points by more than the height. Either way the
# distance error stays under 1e-8 of the face size (1e-7 m for a 10 m face).
_SLIVER = 1e-8

# Pairs of (point, triangle) evaluated per vectorized batch: bounds temporary memory
# (about 1 KiB per pair) without measurable per-batch overhead.
_PAIR_BATCH = 1 << 17


def contact_distance(dataset: str) -> float:
    """The contact distance in metres of a dataset name from `THRESHOLDS` (e.g. "ObMan"):
    a hand vertex closer than this to the surface is in contact."""
    if dataset not in THRESHOLDS:
        raise KeyError(f"unknown dataset {dataset!r}; known datasets: {', '.join(THRESHOLDS)}")
    value = THRESHOLDS[dataset]
    if value == PROVIDED:
        raise ValueError(
            f"{dataset} has no contact threshold: its contact labels come with the dataset; "
            "load them instead of computing them from meshes"
        )
    return float(value)


def contact_labels(
    hand_vertices: np.ndarray, mesh: trimesh.Trimesh | tuple, threshold: float, method: str = "fast"
) -> np.ndarray:
    """Contact label per hand vertex: distance to the surface of `mesh` < `threshold`.

    Args:
        hand_vertices: (778, 3) hand vertex positions in metres.
        mesh: a `trimesh.Trimesh`, or a `(vertices (M, 3), faces (F, 3))` tuple, in metres.
        threshold: contact distance in metres (see `THRESHOLDS`); the test is strict (<).
        method: "fast" (exact, culled; the default) or "trimesh" (the paper's reference:
            `ProximityQuery(mesh).on_surface`). Both give the same labels, up to vertices
            whose distance is within rounding error of the threshold.

    Returns:
        (778,) bool array, True where the vertex is in contact.

    Raises:
        ValueError: on a wrong shape, non-finite coordinates, an empty or degenerate mesh,
            a threshold that is not a positive finite number, or an unknown method.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    points = _check_hand(hand_vertices)
    vertices, faces = _check_mesh(mesh)
    thr = _check_threshold(threshold)
    if method == "trimesh":
        return _labels_trimesh(points, mesh, vertices, faces, thr)
    return _labels_fast(points, vertices, faces, thr)


# --- input checks -------------------------------------------------------------------------


def _check_hand(hand_vertices) -> np.ndarray:
    points = np.asarray(hand_vertices, dtype=np.float64)
    if points.shape != (NUM_HAND_VERTICES, 3):
        raise ValueError(
            f"hand_vertices must have shape ({NUM_HAND_VERTICES}, 3) (MANO vertices in "
            f"metres), got shape {points.shape}; pass one hand at a time"
        )
    if not np.isfinite(points).all():
        raise ValueError(
            "hand_vertices contain NaN or inf; fix the hand fit (or drop the frame) first"
        )
    return points


def _check_mesh(mesh) -> tuple[np.ndarray, np.ndarray]:
    """(vertices float64 (M, 3), faces int64 (F, 3)) of a Trimesh or a tuple, validated."""
    if isinstance(mesh, tuple) and len(mesh) == 2:
        vertices, faces = mesh
    elif hasattr(mesh, "vertices") and hasattr(mesh, "faces"):
        vertices, faces = mesh.vertices, mesh.faces
    else:
        raise ValueError(
            f"mesh must be a trimesh.Trimesh or a (vertices, faces) tuple, got {type(mesh)}"
        )
    # .view(np.ndarray) drops trimesh's TrackedArray, whose hashing slows indexing.
    vertices = np.asarray(vertices, dtype=np.float64).view(np.ndarray)
    faces = np.asarray(faces).view(np.ndarray)
    if vertices.size == 0 or faces.size == 0:
        raise ValueError(
            f"mesh is empty ({len(vertices)} vertices, {len(faces)} faces); "
            "contact needs a surface: check that the mesh file loaded"
        )
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f"mesh vertices must have shape (M, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(
            f"mesh faces must have shape (F, 3) (triangles), got {faces.shape}; "
            "triangulate the mesh first (trimesh does so on load)"
        )
    integral = np.issubdtype(faces.dtype, np.integer) or (
        np.isfinite(faces).all() and (faces == np.round(faces)).all()
    )
    if not integral:
        raise ValueError(f"mesh faces must be integer vertex indices, got dtype {faces.dtype}")
    faces = faces.astype(np.int64)
    if not np.isfinite(vertices).all():
        raise ValueError("mesh vertices contain NaN or inf; fix or drop the mesh first")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise ValueError(
            f"degenerate mesh: face indices must lie in [0, {len(vertices) - 1}] for "
            f"{len(vertices)} vertices, got range [{faces.min()}, {faces.max()}]; "
            "the faces do not belong to these vertices"
        )
    if not _has_non_sliver(vertices, faces):
        raise ValueError(
            f"degenerate mesh: all {len(faces)} faces have ~zero area (collapsed or "
            "collinear corners); check the mesh scale and the face indices"
        )
    return vertices, faces


def _check_threshold(threshold) -> float:
    # bool is a Real in Python, but True as "1 metre" is surely a bug in the caller.
    real = isinstance(threshold, numbers.Real) and not isinstance(threshold, (bool, np.bool_))
    thr = float(threshold) if real else math.nan
    if not (math.isfinite(thr) and thr > 0):
        raise ValueError(
            "threshold must be a positive finite number of metres (e.g. 0.01, see "
            f"THRESHOLDS), got {threshold!r}"
        )
    return thr


# --- the paper's reference ----------------------------------------------------------------


def _labels_trimesh(points, mesh, vertices, faces, thr) -> np.ndarray:
    import trimesh

    if not isinstance(mesh, trimesh.Trimesh):
        # process=False keeps the given geometry as is (merging vertices would not change
        # the surface, only cost time).
        mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    _, distance, _ = trimesh.proximity.ProximityQuery(mesh).on_surface(points)
    return np.asarray(distance) < thr


# --- the fast exact method ----------------------------------------------------------------


def _labels_fast(points, vertices, faces, thr) -> np.ndarray:
    labels = np.zeros(len(points), dtype=bool)

    # 1. Faces out of reach of the whole hand: a face's box misses the grown hand box when
    # all three corners lie beyond the same side of it. Per-vertex outcodes (one bit per
    # side, as in Cohen-Sutherland clipping) make that three integer gathers per face.
    lo, hi = points.min(axis=0) - thr, points.max(axis=0) + thr
    bits = np.array([1, 2, 4], dtype=np.uint8)
    outcode = ((vertices < lo) @ bits) | ((vertices > hi) @ (bits << 3))
    outcode = outcode.astype(np.uint8)
    reach = (outcode[faces[:, 0]] & outcode[faces[:, 1]] & outcode[faces[:, 2]]) == 0
    if not reach.any():
        return labels
    tri = vertices[faces[reach]]  # (F', 3 corners, 3)

    # 2. Early accept on corners. Only corners of faces count: an unreferenced vertex is
    # not on the surface. Corners outside the grown hand box cannot be within thr.
    used = np.zeros(len(vertices), dtype=bool)
    used[faces[reach]] = True
    corners = vertices[used & (outcode == 0)]
    if len(corners):
        dist, _ = cKDTree(corners).query(points, distance_upper_bound=thr)
        labels |= dist < thr
    todo = np.flatnonzero(~labels)
    if not len(todo):
        return labels

    # 3. Candidate pairs from centroid trees, one per size bucket.
    centroid = tri.mean(axis=1)
    radius = np.sqrt(((tri - centroid[:, None, :]) ** 2).sum(axis=2)).max(axis=1)
    plane = _non_sliver(tri)
    for members in _size_buckets(radius, thr):
        if not len(todo):
            break
        pts = points[todo]
        reach_r = thr + radius[members].max()
        # Slack against rounding in the tree's distances; more candidates, never fewer.
        reach_r = reach_r * (1 + 1e-9) + 1e-12
        near = cKDTree(centroid[members]).query_ball_point(pts, reach_r)
        counts = np.fromiter((len(n) for n in near), dtype=np.int64, count=len(near))
        if not counts.any():
            continue
        pi = np.repeat(np.arange(len(pts)), counts)
        ti = members[np.concatenate([n for n in near if n]).astype(np.int64)]
        # 4. Exact distances, batched, per pair; any pair closer than thr labels its point.
        hit = np.zeros(len(pts), dtype=bool)
        for start in range(0, len(pi), _PAIR_BATCH):
            p, t = pi[start : start + _PAIR_BATCH], ti[start : start + _PAIR_BATCH]
            close = point_triangle_sq_dist(pts[p], tri[t], plane[t]) < thr * thr
            hit[p[close]] = True
        labels[todo[hit]] = True
        todo = todo[~hit]
    return labels


def _size_buckets(radius: np.ndarray, thr: float) -> list[np.ndarray]:
    """Indices of triangles grouped by circumradius-like size R, in powers of two.

    Within a bucket R varies at most 2x, so querying with thr + max R costs little. All
    triangles with R below thr / 2 share one bucket: the search radius stays under 1.5 thr
    however small they are, and merging them saves building trees.
    """
    _, exponent = np.frexp(radius)
    floor = np.frexp(thr)[1] - 2
    exponent = np.maximum(exponent, floor)
    order = np.argsort(exponent, kind="stable")
    cuts = np.flatnonzero(np.diff(exponent[order])) + 1
    return np.split(order, cuts)


def _has_non_sliver(vertices: np.ndarray, faces: np.ndarray, chunk: int = 1024) -> bool:
    """Whether any face has a usable plane; checks chunk by chunk because a valid mesh
    answers on its first faces and validation should not cost a full pass."""
    return any(
        _non_sliver(vertices[faces[start : start + chunk]]).any()
        for start in range(0, len(faces), chunk)
    )


def _non_sliver(tri: np.ndarray) -> np.ndarray:
    """(F,) bool: True for faces with a usable plane (see `_SLIVER`). tri: (F, 3, 3)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    twice_area = np.linalg.norm(np.cross(b - a, c - a), axis=1)
    longest_sq = np.maximum(np.maximum(_dot(b - a, b - a), _dot(c - b, c - b)), _dot(a - c, a - c))
    # height / longest edge = twice_area / longest**2
    return twice_area > _SLIVER * longest_sq


def point_triangle_sq_dist(
    points: np.ndarray, triangles: np.ndarray, plane: np.ndarray | None = None
) -> np.ndarray:
    """Exact squared distance from each point to its triangle (float64).

    Args:
        points: (N, 3) points.
        triangles: (N, 3, 3) triangles, corners along axis 1 (pairs with `points` row-wise).
        plane: optional (N,) bool, `_non_sliver(triangles)` when the caller has it already.

    Returns:
        (N,) squared distances. The closest point of a triangle is on one of its three edges
        or, when the point projects inside it, the projection; so the distance is the
        smallest edge-segment distance, or the plane distance when the projection falls
        inside. Degenerate (zero-area) triangles are segments or points, which the edge
        segments already cover, so their plane is never used.
    """
    a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    d2 = np.minimum(
        np.minimum(_segment_sq_dist(points, a, b), _segment_sq_dist(points, b, c)),
        _segment_sq_dist(points, c, a),
    )
    if plane is None:
        plane = _non_sliver(triangles)
    if plane.any():
        p, a, b, c = points[plane], a[plane], b[plane], c[plane]
        normal = np.cross(b - a, c - a)
        # The projection is inside when p lies on the inner side of all three edges, i.e.
        # each sub-triangle (edge, p) has the same orientation as the triangle.
        inside = (
            (_dot(normal, np.cross(b - a, p - a)) >= 0)
            & (_dot(normal, np.cross(c - b, p - b)) >= 0)
            & (_dot(normal, np.cross(a - c, p - c)) >= 0)
        )
        height = _dot(normal, p - a)
        plane_d2 = height * height / _dot(normal, normal)
        idx = np.flatnonzero(plane)[inside]
        d2[idx] = np.minimum(d2[idx], plane_d2[inside])
    return d2


def _segment_sq_dist(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) squared distance from p to segment ab; a zero-length segment is the point a."""
    ab = b - a
    ap = p - a
    length_sq = _dot(ab, ab)
    t = np.zeros(len(p))
    np.divide(_dot(ap, ab), length_sq, out=t, where=length_sq > 0)
    np.clip(t, 0.0, 1.0, out=t)
    d = ap - t[:, None] * ab
    return _dot(d, d)


def _dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise dot product of two (N, 3) arrays."""
    return np.einsum("ij,ij->i", u, v)
