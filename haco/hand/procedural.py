"""A procedural right hand with exactly MANO's 778 vertices, built by box modelling.

The palm is the surface of an 11 x 7 x 4 grid box (300 vertices). Each finger is a tube
extruded from a rectangular patch of that surface: the patch's quads are removed, its
boundary loop becomes the tube's first ring, new rings follow the finger's bones, and a
copy of the removed patch closes the tip. Removing and re-adding the same patch leaves the
vertex count at `palm + sum(ring size * rings)` = 300 + 12 * 34 + 10 * 7 = 778, and
because every new face reuses the orientation of the face it replaces, the mesh is
watertight and consistently oriented by construction.

Frame (metres): wrist at the origin, fingers along +y, the palmar side facing -z, the
thumb on the -x side (a right hand seen from its back). Hand length about 18.5 cm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CM = 0.01

PALM_CELLS = (11, 7, 4)          # grid cells across (x), along (y), through (z) the palm
PALM_LENGTH = 9.0                # cm, wrist to the knuckle line at the palm's edges
KNUCKLE_ARC = 0.6                # cm the knuckle line rises towards the middle finger
HALF_WIDTH = (3.0, 4.2)          # cm at the wrist and at the knuckles
HALF_THICKNESS = (1.25, 1.15)    # cm at the wrist and at the knuckles
SUPERELLIPSE = 3.0               # palm cross-section roundness (2 = ellipse)


@dataclass(frozen=True)
class FingerSpec:
    name: str
    face: tuple[int, int]                 # (axis, side) of the palm face it grows from
    patch: dict[int, tuple[int, int]]     # in-face grid ranges, by axis
    bones: tuple[float, float, float]     # cm: joint1->joint2, joint2->joint3, joint3->tip
    rings: tuple[int, int, int]           # new rings per bone (the last of a bone sits on its joint)
    radius: tuple[float, float]           # cm at the base and at the tip
    directions: tuple[tuple[float, float, float], ...]  # rest direction of each bone


# MANO chain order of the 15 finger joints: index, middle, pinky, ring, thumb.
FINGERS = (
    FingerSpec("index", (1, 1), {0: (0, 2), 2: (0, 4)}, (3.9, 2.3, 2.1), (3, 2, 3),
               (0.85, 0.70), ((-0.10, 1, 0),) * 3),
    FingerSpec("middle", (1, 1), {0: (3, 5), 2: (0, 4)}, (4.4, 2.8, 2.3), (4, 2, 3),
               (0.90, 0.72), ((0, 1, 0),) * 3),
    FingerSpec("pinky", (1, 1), {0: (9, 11), 2: (0, 4)}, (3.3, 2.0, 2.0), (3, 2, 3),
               (0.75, 0.60), ((0.19, 1, 0),) * 3),
    FingerSpec("ring", (1, 1), {0: (6, 8), 2: (0, 4)}, (4.1, 2.6, 2.2), (4, 2, 3),
               (0.85, 0.68), ((0.09, 1, 0),) * 3),
    FingerSpec("thumb", (0, 0), {1: (1, 4), 2: (0, 2)}, (4.2, 3.1, 2.6), (2, 2, 3),
               (1.05, 0.85), ((-0.72, 0.62, -0.2), (-0.55, 0.78, -0.2), (-0.42, 0.86, -0.18))),
)
THUMB_CMC_DEPTH = 1.6  # cm the thumb's first joint sits inside the palm, behind its patch
MCP_DEPTH = 1.0        # cm the knuckles sit below the palm's top face


@dataclass
class ProceduralHand:
    """Raw output of the builder: geometry, skeleton and skinning, in metres."""

    vertices: np.ndarray   # (778, 3)
    faces: np.ndarray      # (1552, 3) int, outward
    joints: np.ndarray     # (16, 3) rest joint centres, MANO order
    weights: np.ndarray    # (778, 16) skinning weights, rows sum to 1
    chain_of: np.ndarray   # (778,) finger index 0..4 in FINGERS for tube vertices, -1 for palm


# --------------------------------------------------------------------------- palm box


def _box_surface(cells):
    """Vertices (integer grid coords) and outward quads of a subdivided box surface."""
    n = np.array(cells)
    index: dict[tuple[int, int, int], int] = {}
    quads = []  # (face axis, side, in-face coords, 4 vertex ids)
    for axis in range(3):
        b, c = (axis + 1) % 3, (axis + 2) % 3  # cyclic, so e_b x e_c = +e_axis
        for side in (0, 1):
            for u in range(n[b]):
                for v in range(n[c]):
                    corners = []
                    for du, dv in ((0, 0), (1, 0), (1, 1), (0, 1)):
                        g = [0, 0, 0]
                        g[axis], g[b], g[c] = side * n[axis], u + du, v + dv
                        corners.append(index.setdefault(tuple(g), len(index)))
                    if side == 0:  # outward is -e_axis: reverse the winding
                        corners.reverse()
                    quads.append(((axis, side), {b: u, c: v}, corners))
    grid = np.zeros((len(index), 3), int)
    for g, i in index.items():
        grid[i] = g
    return grid, quads


def _palm_position(grid):
    """Map integer box-grid coordinates to a tapered, rounded palm (cm)."""
    n = np.array(PALM_CELLS, float)
    a = 2 * grid[:, 0] / n[0] - 1          # thumb side -1 .. pinky side +1
    v = grid[:, 1] / n[1]                  # wrist 0 .. knuckles 1
    b = 2 * grid[:, 2] / n[2] - 1          # palmar -1 .. dorsal +1
    # Square to superellipse: keeps the grid's topology, rounds the cross-section.
    p = SUPERELLIPSE
    norm = np.maximum(np.abs(a), np.abs(b))
    radius = (np.abs(a) ** p + np.abs(b) ** p) ** (1 / p)
    scale = np.where(radius > 0, norm / np.maximum(radius, 1e-12), 1.0)
    a, b = a * scale, b * scale
    ease = v * v * (3 - 2 * v)
    half_w = HALF_WIDTH[0] + (HALF_WIDTH[1] - HALF_WIDTH[0]) * ease
    half_t = HALF_THICKNESS[0] + (HALF_THICKNESS[1] - HALF_THICKNESS[0]) * ease
    y = v * PALM_LENGTH + KNUCKLE_ARC * (1 - a * a) * v**4
    y = y - 0.4 * (grid[:, 1] == 0) * (1 - a * a) * (1 - b * b)  # a domed wrist cap
    return np.stack([a * half_w, y, b * half_t], axis=1)


def _take_patch(quads, face, ranges):
    """Remove a patch of quads; return its boundary loop, interior ids and the quads."""
    inside = [
        q for q in quads
        if q[0] == face and all(lo <= q[1][ax] < hi for ax, (lo, hi) in ranges.items())
    ]
    for q in inside:
        quads.remove(q)
    directed = {(q[2][i], q[2][(i + 1) % 4]) for q in inside for i in range(4)}
    boundary = {e for e in directed if (e[1], e[0]) not in directed}
    step = dict(boundary)
    loop = [min(step)]
    while len(loop) < len(step):
        loop.append(step[loop[-1]])
    used = {i for q in inside for i in q[2]}
    return loop, sorted(used - set(loop)), [q[2] for q in inside]


# --------------------------------------------------------------------------- finger tubes


def _polyline(points):
    """Arc-length parametrisation of a polyline: cumulative lengths and unit directions."""
    seg = np.diff(points, axis=0)
    lengths = np.linalg.norm(seg, axis=1)
    return np.concatenate([[0], np.cumsum(lengths)]), seg / lengths[:, None]


def _along(points, s):
    """Point and (smoothed) direction at arc length s along a polyline."""
    cum, dirs = _polyline(points)
    i = int(np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(dirs) - 1))
    point = points[i] + dirs[i] * (s - cum[i])
    direction = dirs[i]
    if i > 0 and s - cum[i] < 0.3:  # blend across a joint so rings do not fold
        direction = dirs[i] + dirs[i - 1]
    return point, direction / np.linalg.norm(direction)


def _ring_stations(spec, s_base):
    """Arc lengths of the new rings: one ends each bone, the last ones round the tip."""
    edges = np.concatenate([[0], np.cumsum(spec.bones)])
    tip_radius = spec.radius[1]
    stations = []
    for bone, count in enumerate(spec.rings):
        start = max(edges[bone], s_base)
        end = edges[bone + 1] if bone < 2 else edges[3] - 0.35 * tip_radius
        stations += list(start + (end - start) * np.arange(1, count + 1) / count)
    return np.array(stations)


def _ring_radius(spec, s, total):
    r = spec.radius[0] + (spec.radius[1] - spec.radius[0]) * s / total
    dome_start = total - spec.radius[1]
    if s > dome_start:  # a hemispherical fingertip
        r = r * np.sqrt(max(1 - ((s - dome_start) / spec.radius[1]) ** 2, 0.1))
    return r


def _ring_frame(direction, across):
    """Cross-section axes: e1 follows the patch's first axis, e2 = e1 x d (see module doc)."""
    e1 = across - direction * (across @ direction)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(e1, direction)


def build() -> ProceduralHand:
    grid, quads = _box_surface(PALM_CELLS)
    positions = list(_palm_position(grid))
    chain_of = [-1] * len(positions)
    faces: list[list[int]] = []
    removed: set[int] = set()
    joints = np.zeros((16, 3))
    chain_station: dict[int, float] = {}  # tube vertex -> arc length along its finger
    finger_frames = []

    for f, spec in enumerate(FINGERS):
        loop, interior, patch_quads = _take_patch(quads, spec.face, spec.patch)
        removed.update(interior)
        axes = sorted(spec.patch)                 # the patch's two in-face axes
        lo = np.array([spec.patch[a][0] for a in axes], float)
        hi = np.array([spec.patch[a][1] for a in axes], float)
        local = (2 * (grid[:, axes] - lo) / (hi - lo)) - 1  # [-1, 1]^2 across the patch
        angles = np.arctan2(local[loop, 1], local[loop, 0])

        base = np.mean([positions[i] for i in loop], axis=0)
        dirs = [np.array(d, float) / np.linalg.norm(d) for d in spec.directions]
        if spec.name == "thumb":
            root = base - dirs[0] * THUMB_CMC_DEPTH
        else:
            root = np.array([base[0], base[1] - MCP_DEPTH, -0.1])
        chain = [root]
        for bone, d in zip(spec.bones, dirs):
            chain.append(chain[-1] + d * bone)
        chain = np.array(chain)
        joints[1 + 3 * f: 4 + 3 * f] = chain[:3]
        total = sum(spec.bones)
        s_base = (base - root) @ dirs[0]
        across = np.eye(3)[axes[0]]
        finger_frames.append((chain, across))

        previous = loop
        for s in _ring_stations(spec, s_base):
            centre, d = _along(chain, s)
            e1, e2 = _ring_frame(d, across)
            r = _ring_radius(spec, s, total)
            ring = []
            for theta in angles:
                offset = 1.08 * r * np.cos(theta) * e1 + 0.92 * r * np.sin(theta) * e2
                positions.append(centre + offset)
                chain_of.append(f)
                chain_station[len(positions) - 1] = s
                ring.append(len(positions) - 1)
            for j in range(len(loop)):  # quad (a, b, b', a') keeps the patch's winding
                a, b = previous[j], previous[(j + 1) % len(loop)]
                faces += [[a, b, ring[(j + 1) % len(loop)]], [a, ring[(j + 1) % len(loop)], ring[j]]]
            previous = ring

        # Close the tip with a copy of the removed patch: its boundary maps onto the last
        # ring, its interior vertices become new vertices on the rounded fingertip.
        centre, d = _along(chain, total - 0.08 * spec.radius[1])
        e1, e2 = _ring_frame(d, across)
        remap = dict(zip(loop, previous))
        for i in interior:
            p, q = local[i]
            offset = 0.5 * spec.radius[1] * (p * e1 + q * e2)
            positions.append(centre + offset)
            chain_of.append(f)
            chain_station[len(positions) - 1] = total
            remap[i] = len(positions) - 1
        for quad in patch_quads:
            a, b, c, e = (remap[i] for i in quad)
            faces += [[a, b, c], [a, c, e]]

    for _, _, quad in quads:
        a, b, c, e = quad
        faces += [[a, b, c], [a, c, e]]

    joints[0] = np.mean(_palm_position(grid[grid[:, 1] == 0]), axis=0)  # wrist cap centre
    vertices, faces, chain_of, keep = _compact(np.array(positions), np.array(faces),
                                               np.array(chain_of), removed)
    stations = np.array([chain_station.get(int(old), np.nan) for old in keep])
    weights = _skinning(vertices, chain_of, stations, finger_frames)
    return ProceduralHand(vertices * CM, faces, joints * CM, weights, chain_of)


def _compact(positions, faces, chain_of, removed):
    keep = np.array([i for i in range(len(positions)) if i not in removed])
    new_id = -np.ones(len(positions), int)
    new_id[keep] = np.arange(len(keep))
    faces = new_id[faces]
    assert (faces >= 0).all(), "a face still uses a removed patch vertex"
    return positions[keep], faces, chain_of[keep], keep


# --------------------------------------------------------------------------- skinning

BLEND = 0.6  # cm: half-width of the skin blend across each joint


def _progress(s, joint_s):
    """0 before a joint, 1 after it, linear across +-BLEND."""
    return np.clip((s - joint_s) / (2 * BLEND) + 0.5, 0.0, 1.0)


def _skinning(vertices, chain_of, stations, finger_frames):
    """Linear-blend weights: tube vertices by arc length, palm vertices near a finger base
    partly follow that finger's first joint, the rest follow the wrist."""
    weights = np.zeros((len(vertices), 16))
    weights[:, 0] = 1.0
    for f, (chain, _) in enumerate(finger_frames):
        ids = [1 + 3 * f, 2 + 3 * f, 3 + 3 * f]
        joint_s = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(chain, axis=0), axis=1))])
        d0 = (chain[1] - chain[0]) / np.linalg.norm(chain[1] - chain[0])
        rel = vertices - chain[0]
        s_palm = rel @ d0
        lateral = np.linalg.norm(rel - np.outer(s_palm, d0), axis=1)
        tube = chain_of == f
        s = np.where(tube, stations, s_palm)
        reach = np.where(tube, 1.0, np.clip(1 - lateral / (1.6 * FINGERS[f].radius[0]), 0, 1))
        progress = [_progress(s, joint_s[k]) * reach for k in range(3)]
        share = np.stack([progress[0] - progress[1], progress[1] - progress[2], progress[2]], 1)
        affected = tube | (reach > 0)
        weights[affected, 0] -= progress[0][affected]
        weights[np.ix_(affected, ids)] += share[affected]
    weights = np.clip(weights, 0, None)
    return weights / weights.sum(axis=1, keepdims=True)
