"""What a hand mesh implies beyond its vertices: adjacency, regions, regressors, joint axes.

Everything here works from geometry, skeleton and skinning alone, so the procedural hand
and a user's real MANO model get their regions and coarsenings from the same code.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import nnls
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from haco.hand.model import CHAINS, FINGER_NAMES

COARSE_LEVELS = (336, 84)  # the paper's multi-level supervision, besides 778 and 21
REGION_NAMES = tuple(f"{name}_tip" for name in FINGER_NAMES) + (
    "finger_pads", "finger_backs", "palm", "dorsum", "sides",
)


def edges_of(faces: np.ndarray) -> np.ndarray:
    """(E, 2) unique undirected edges, smaller id first."""
    pairs = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return np.unique(np.sort(pairs, axis=1), axis=0)


def adjacency(faces: np.ndarray, num_vertices: int) -> sp.csr_matrix:
    """Symmetric boolean vertex adjacency from the faces."""
    e = edges_of(faces)
    ones = np.ones(len(e), bool)
    a = sp.coo_matrix((ones, (e[:, 0], e[:, 1])), shape=(num_vertices, num_vertices))
    return (a + a.T).tocsr().astype(bool)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals."""
    tri = vertices[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_n)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def palmar_directions(joints: np.ndarray) -> dict[str, np.ndarray]:
    """The direction each finger's pad faces at rest. For a right hand the palm normal is
    (index1 - wrist) x (pinky1 - wrist); the thumb's pad turns towards the fingers."""
    palm = _unit(np.cross(joints[1] - joints[0], joints[7] - joints[0]))
    across = _unit(joints[7] - joints[1])  # index knuckle -> pinky knuckle
    dirs = {name: palm for name in CHAINS}
    dirs["thumb"] = _unit(0.5 * palm + 0.9 * across)
    return dirs


def joint_axes(joints: np.ndarray, tips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(16, 3) flexion and abduction axes: flexion turns a bone towards its finger's pad,
    abduction turns it sideways (radially for positive angles)."""
    pads = palmar_directions(joints)
    flex = np.zeros((16, 3))
    abd = np.zeros((16, 3))
    for f, (name, chain) in enumerate(CHAINS.items()):
        ends = list(chain[1:]) + [None]
        tip = tips[FINGER_NAMES.index(name)]
        for j, child in zip(chain, ends):
            bone = _unit((joints[child] if child is not None else tip) - joints[j])
            flex[j] = _unit(np.cross(bone, pads[name]))
            abd[j] = _unit(np.cross(bone, flex[j]))
    return flex, abd


def hand_regions(vertices, faces, weights, joints, tip_fraction=0.3) -> dict[str, np.ndarray]:
    """Partition the vertices into named regions, from skinning and surface normals.

    Fingertip: dominated by a distal joint and past `tip_fraction` of a distal bone length
    (estimated by the middle bone). Elsewhere on a finger: pad, back or side by the angle
    of the normal to the finger's pad direction. Wrist- and thumb-metacarpal-dominated
    vertices: palm, dorsum or side by the angle to the palm normal.
    """
    normals = vertex_normals(vertices, faces)
    pads = palmar_directions(joints)
    dominant = weights.argmax(axis=1)
    label = np.full(len(vertices), "sides", dtype=object)

    def by_facing(ids, direction, front, back):
        cos = normals[ids] @ direction
        label[ids[cos > 0.35]] = front
        label[ids[cos < -0.35]] = back

    palm_like = np.flatnonzero((dominant == 0) | (dominant == CHAINS["thumb"][0]))
    by_facing(palm_like, pads["index"], "palm", "dorsum")
    for name, (j1, j2, j3) in CHAINS.items():
        ids = np.flatnonzero(np.isin(dominant, [j1, j2, j3]) & (dominant != CHAINS["thumb"][0]))
        by_facing(ids, pads[name], "finger_pads", "finger_backs")
        bone = joints[j3] - joints[j2]
        along = (vertices - joints[j3]) @ _unit(bone) / np.linalg.norm(bone)
        label[(dominant == j3) & (along > tip_fraction)] = f"{name}_tip"
    return {name: np.flatnonzero(label == name) for name in REGION_NAMES}


def geodesic_distances(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """All-pairs shortest paths along mesh edges, (V, V) metres."""
    e = edges_of(faces)
    length = np.linalg.norm(vertices[e[:, 0]] - vertices[e[:, 1]], axis=1)
    graph = sp.coo_matrix((length, (e[:, 0], e[:, 1])), shape=(len(vertices),) * 2)
    return dijkstra(graph.tocsr(), directed=False)


def coarsening(distances: np.ndarray, size: int) -> np.ndarray:
    """(size, V) averaging matrix over geodesic Voronoi patches.

    Seeds come from farthest-point sampling (deterministic, nested across sizes); each
    vertex joins its geodesically nearest seed, so patches never jump between fingers,
    every vertex is covered once, and no patch is empty (a seed is its own nearest).
    """
    seeds = [int(distances[0].argmax())]
    nearest = distances[seeds[0]].copy()
    while len(seeds) < size:
        seeds.append(int(nearest.argmax()))
        nearest = np.minimum(nearest, distances[seeds[-1]])
    owner = distances[seeds].argmin(axis=0)
    matrix = np.zeros((size, distances.shape[0]))
    matrix[owner, np.arange(distances.shape[0])] = 1.0
    return matrix / matrix.sum(axis=1, keepdims=True)


def joint_regressor(vertices: np.ndarray, joints: np.ndarray, k: int = 48) -> np.ndarray:
    """(J, V) convex weights over nearby vertices reproducing each joint centre, like
    MANO's J_regressor (non-negative least squares with a sum-to-one row)."""
    tree = cKDTree(vertices)
    rows = np.zeros((len(joints), len(vertices)))
    for j, point in enumerate(joints):
        _, near = tree.query(point, k=k)
        scale = 10.0  # weight of the sum-to-one constraint against metre-sized residuals
        a = np.vstack([vertices[near].T, scale * np.ones(k)])
        w, _ = nnls(a, np.append(point, scale))
        rows[j, near] = w / w.sum()
    return rows
