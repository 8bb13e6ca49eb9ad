"""The rasterizer of the synthetic twins: pinhole camera, near clipping, z-buffer.

No OpenGL and no Python loop over pixels or triangles: every triangle's pixel bounding box
is expanded into (triangle, pixel) candidate pairs, barycentrics are computed for all pairs
at once, and the z-buffer is resolved with `np.minimum.at` over the inside pairs (faster
than sorting them by pixel and depth). What the winning pixels look like is painted by
haco/synth/paint.py.

Conventions:
- Camera space is right-handed: x right, y down (image rows), z forward (depth). A world
  point projects to u = focal * x / z + size / 2 (column), v = focal * y / z + size / 2
  (row); pixel (row i, column j) is sampled at its centre (j + 0.5, i + 0.5).
- "Depth" is the camera-space z (distance along the optical axis), not the ray length.
- Faces are outward-facing (counter-clockwise seen from outside). Back faces are NOT
  culled: closed meshes hide them through the z-buffer anyway, and an open surface (a
  2-triangle ground plane) with the "wrong" winding still shows, lit from its visible side.
- Near plane: triangles are clipped at z = `NEAR` (a part behind it is cut off, a triangle
  wholly behind it dropped), so a large ground plane seen obliquely still renders.

Example (`python tests/synth/test_render.py` writes a similar /tmp/render_check.png):

    ball = trimesh.creation.icosphere(3, radius=0.05)
    box = trimesh.creation.box((0.1, 0.1, 0.1)).apply_translation((0.1, 0, 0))
    scene = [Entity(ball.vertices, ball.faces, (0.8, 0.6, 0.5), is_hand=True),
             Entity(box.vertices, box.faces, (0.2, 0.4, 0.8), texture="checker")]
    cam = hand_centred_camera(ball.vertices, view_dir=(0.3, -0.4, 1), size=128)
    depth, entity, face = depth_and_ids(scene, cam)         # the z-buffer
    image = paint.render(scene, cam, np.random.default_rng(0))  # (128, 128, 3) uint8
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEAR = 0.01  # metres: the near clipping plane (cameras sit tens of centimetres away)
TEXTURES = ("plain", "checker", "stripes", "noise")
# Candidate (triangle, pixel) pairs per batch: bounds the temporaries (~150 B per pair, so
# ~80 MB) when many large triangles cover the image. A hand + object at 256 px makes ~110k.
MAX_PAIRS = 1 << 19
EDGE_EPS = 1e-9  # barycentric slack: a pixel centre on a shared edge is inside both faces


@dataclass
class Entity:
    vertices: np.ndarray                 # (V, 3) metres, world frame
    faces: np.ndarray                    # (F, 3) int, outward-facing (CCW from outside)
    colour: tuple[float, float, float]   # base RGB in [0, 1]
    texture: str = "plain"               # one of TEXTURES, computed from 3D position
    texture_scale: float = 0.02          # metres per texture period
    is_hand: bool = False                # milder colour jitter: the caller picks the skin

    def __post_init__(self):
        self.vertices = np.asarray(self.vertices, dtype=np.float64)
        self.faces = np.asarray(self.faces)
        self.validate()

    def validate(self, name: str = "entity") -> None:
        """Raise ValueError naming the first problem: shapes, NaN, face indices, options."""
        v, f = self.vertices, self.faces
        if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0:
            raise ValueError(f"{name}: vertices must be a non-empty (V, 3) array, got {v.shape}")
        if not np.isfinite(v).all():
            raise ValueError(f"{name}: vertices contain NaN or inf")
        if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0 or not np.issubdtype(f.dtype, np.integer):
            raise ValueError(f"{name}: faces must be a non-empty (F, 3) int array, "
                             f"got {f.shape} {f.dtype}")
        if f.min() < 0 or f.max() >= len(v):
            raise ValueError(f"{name}: face indices must lie in [0, {len(v)}), "
                             f"got [{f.min()}, {f.max()}]")
        if self.texture not in TEXTURES:
            raise ValueError(f"{name}: unknown texture {self.texture!r}; known: "
                             f"{', '.join(TEXTURES)}")
        if not self.texture_scale > 0:
            raise ValueError(f"{name}: texture_scale must be > 0, got {self.texture_scale}")
        if len(self.colour) != 3 or not all(0 <= c <= 1 for c in self.colour):
            raise ValueError(f"{name}: colour must be 3 values in [0, 1], got {self.colour}")


@dataclass
class Camera:
    position: np.ndarray   # (3,) world
    look_at: np.ndarray    # (3,) world point on the optical axis
    up: np.ndarray         # (3,) world direction that appears upwards in the image
    focal: float           # pixels (pinhole); principal point at the image centre
    size: int              # square image side in pixels

    def __post_init__(self):
        for field in ("position", "look_at", "up"):
            setattr(self, field, np.asarray(getattr(self, field), dtype=np.float64))
        self.validate()

    def validate(self) -> None:
        if not (isinstance(self.size, (int, np.integer)) and self.size >= 8):
            raise ValueError(f"camera size must be an int >= 8 pixels, got {self.size!r}")
        if not (np.isfinite(self.focal) and self.focal > 0):
            raise ValueError(f"camera focal must be a positive number of pixels, got {self.focal}")
        for field in ("position", "look_at", "up"):
            value = getattr(self, field)
            if value.shape != (3,) or not np.isfinite(value).all():
                raise ValueError(f"camera {field} must be 3 finite numbers, got {value}")
        self.rotation()  # raises on a degenerate view direction or up

    def rotation(self) -> np.ndarray:
        """(3, 3) world-to-camera rotation; rows are the camera's right, down, forward axes."""
        forward = self.look_at - self.position
        if np.linalg.norm(forward) < 1e-12:
            raise ValueError("camera position and look_at coincide")
        forward = forward / np.linalg.norm(forward)
        right = np.cross(forward, self.up)
        if np.linalg.norm(right) < 1e-9 * max(np.linalg.norm(self.up), 1e-300):
            raise ValueError(f"camera up {self.up} is parallel to the view direction {forward}")
        right /= np.linalg.norm(right)
        return np.stack([right, np.cross(forward, right), forward])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, np.float64) - self.position) @ self.rotation().T


def project(points, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """World points (N, 3) to pixel coordinates (N, 2) as (column u, row v) and depth (N,)."""
    cam = camera.to_camera(points)
    z = cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = camera.focal * cam[:, :2] / z[:, None] + camera.size / 2
    return uv, z


def _orthogonal_up(view_dir: np.ndarray, up: np.ndarray) -> np.ndarray:
    """`up`, or the world axis least aligned with the view when the two are parallel."""
    if np.linalg.norm(np.cross(view_dir, up)) > 1e-6 * np.linalg.norm(up):
        return up
    return np.eye(3)[np.argmin(np.abs(view_dir))]


def hand_centred_camera(hand_vertices, view_dir, size: int, fill: float = 0.8,
                        up=(0.0, 1.0, 0.0), distance: float = 0.5) -> Camera:
    """The paper's input is a hand crop: a camera whose image the hand fills and centres.

    The camera sits `distance` metres from the hand's bounding-box centre, opposite
    `view_dir`. Perspective makes the projected box slightly off-centre, so the aim is
    nudged (a few fixed-point steps) until it is centred; the optical axis then deviates a
    little from `view_dir`. The focal length makes the box's longer side span `fill` of the
    image. An `up` parallel to `view_dir` is replaced by the world axis least aligned with
    the view.
    """
    verts = np.asarray(hand_vertices, np.float64)
    view = np.asarray(view_dir, np.float64)
    if verts.ndim != 2 or verts.shape[1] != 3 or len(verts) == 0:
        raise ValueError(f"hand_vertices must be a non-empty (V, 3) array, got {verts.shape}")
    if not np.isfinite(verts).all():
        raise ValueError("hand_vertices contain NaN or inf")
    if view.shape != (3,) or not np.linalg.norm(view) > 0:
        raise ValueError(f"view_dir must be a non-zero 3-vector, got {view_dir}")
    if not 0 < fill <= 1 or not distance > 0:
        raise ValueError(f"need 0 < fill <= 1 and distance > 0, got fill={fill}, "
                         f"distance={distance}")
    view = view / np.linalg.norm(view)
    centre = (verts.min(0) + verts.max(0)) / 2
    position = centre - view * distance
    up = _orthogonal_up(view, np.asarray(up, np.float64))
    camera = Camera(position, centre, up, focal=1.0, size=size)
    for _ in range(6):   # ~20x closer per step; < 0.001 px off after six in practice
        lo, hi = _normalised_box(camera, verts, distance)
        # Aim at the angular midpoint: exact in 1D, where turning shifts all angles equally.
        mid = np.tan((np.arctan(lo) + np.arctan(hi)) / 2)
        ray = camera.rotation().T @ np.array([mid[0], mid[1], 1.0])
        camera = Camera(position, position + ray, up, focal=1.0, size=size)
    lo, hi = _normalised_box(camera, verts, distance)
    camera.focal = fill * size / max((hi - lo).max(), 1e-9)
    return camera


def _normalised_box(camera: Camera, verts: np.ndarray, distance: float):
    """Bounding box (lo, hi) of the points' projections on the z = 1 plane of `camera`."""
    cam = camera.to_camera(verts)
    if cam[:, 2].min() <= NEAR:
        raise ValueError(f"distance={distance} puts the camera inside the hand's extent")
    xy = cam[:, :2] / cam[:, 2:]
    return xy.min(0), xy.max(0)


# --------------------------------------------------------------------------- rasterizer

@dataclass
class Fragments:
    """The z-buffer winners: one row per covered pixel."""
    pixel: np.ndarray    # (N,) flat pixel index row * size + column
    face: np.ndarray     # (N,) index into the concatenated faces
    weights: np.ndarray  # (N, 3) perspective-correct barycentrics
    depth: np.ndarray    # (N,) camera-space z


def concatenate(entities: list[Entity]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All entities as one mesh: vertices (V, 3), faces (F, 3), entity index per face (F,)."""
    offsets = np.cumsum([0] + [len(e.vertices) for e in entities])
    verts = np.concatenate([e.vertices for e in entities])
    faces = np.concatenate([e.faces.astype(np.int64) + o for e, o in zip(entities, offsets)])
    owner = np.repeat(np.arange(len(entities)), [len(e.faces) for e in entities])
    return verts, faces, owner


@dataclass
class _Setup:
    """Per-triangle rasterization data, one column per triangle (1D gathers are fast)."""
    coef: np.ndarray    # (6, F) barycentric planes: l1 = a1*x + b1*y + c1, l2 likewise
    inv_z: np.ndarray   # (3, F) 1 / camera z of each corner
    lo: np.ndarray      # (2, F) first pixel column and row of the clamped bounding box
    wh: np.ndarray      # (2, F) box width and height in pixels; 0 for dropped triangles


def _lerp(a, b, t):
    return a + t[:, None] * (b - a)


def _clip_near(tri: np.ndarray):
    """Clip camera-space triangles (F, 3, 3) against the plane z = NEAR.

    A triangle with one corner behind becomes a quad (two triangles), one with two corners
    behind a smaller triangle. Returns the triangles (T, 3, 3), each one's source face (T,),
    and each corner's barycentric coordinates in its source face (T, 3, 3), or None for
    the latter when nothing needed clipping (the common, hand-centred case).
    """
    behind = tri[..., 2] < NEAR
    count = behind.sum(axis=1)
    if not count.any():
        return tri, np.arange(len(tri)), None
    eye = np.eye(3)
    kept = np.flatnonzero(count == 0)
    parts = [(tri[kept], kept, np.broadcast_to(eye, (len(kept), 3, 3)))]
    for n_behind in (1, 2):
        f = np.flatnonzero(count == n_behind)
        # Roll corners so the odd one out comes first; rolling keeps the winding.
        odd = np.argmax(behind[f] if n_behind == 1 else ~behind[f], axis=1)
        order = (odd[:, None] + np.arange(3)) % 3
        v, b = tri[f[:, None], order], eye[order]          # corners and their barycentrics
        t_ab = (NEAR - v[:, 0, 2]) / (v[:, 1, 2] - v[:, 0, 2])
        t_ac = (NEAR - v[:, 0, 2]) / (v[:, 2, 2] - v[:, 0, 2])
        p, pb = _lerp(v[:, 0], v[:, 1], t_ab), _lerp(b[:, 0], b[:, 1], t_ab)
        q, qb = _lerp(v[:, 0], v[:, 2], t_ac), _lerp(b[:, 0], b[:, 2], t_ac)
        v0, v1, v2, b0, b1, b2 = v[:, 0], v[:, 1], v[:, 2], b[:, 0], b[:, 1], b[:, 2]
        if n_behind == 1:   # the front part is the quad p, v1, v2, q
            parts.append((np.stack([p, v1, v2], 1), f, np.stack([pb, b1, b2], 1)))
            parts.append((np.stack([p, v2, q], 1), f, np.stack([pb, b2, qb], 1)))
        else:               # the front part is the triangle v0, p, q
            parts.append((np.stack([v0, p, q], 1), f, np.stack([b0, pb, qb], 1)))
    return tuple(np.concatenate(column) for column in zip(*parts))


def _triangle_setup(tri, camera) -> _Setup:
    """Barycentric planes, 1/z and clamped pixel boxes of near-clipped triangles (T, 3, 3).

    Barycentrics are affine in pixel coordinates, so six numbers per triangle make every
    (triangle, pixel) test a few multiply-adds. Degenerate or off-screen triangles get
    empty boxes.
    """
    z = tri[..., 2]                                                  # (T, 3)
    keep = (z > NEAR / 2).all(axis=1)   # clipped corners sit at NEAR, up to rounding
    zs = np.where(keep[:, None], z, 1.0)
    uv = camera.focal * tri[..., :2] / zs[..., None] + camera.size / 2   # (T, 3, 2)
    e1, e2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    keep &= np.abs(area) > 1e-12
    area = np.where(keep, area, 1.0)
    a1, b1 = e2[:, 1] / area, -e2[:, 0] / area
    a2, b2 = -e1[:, 1] / area, e1[:, 0] / area
    u0, v0 = uv[:, 0, 0], uv[:, 0, 1]
    coef = np.stack([a1, b1, -(a1 * u0 + b1 * v0), a2, b2, -(a2 * u0 + b2 * v0)])
    # Pixel j is sampled at j + 0.5: the box holds the pixels whose centres may be inside.
    # Clip before the int cast: a vertex near the near plane projects very far away.
    last = camera.size - 1
    lo = np.clip(np.ceil(uv.min(axis=1) - 0.5), 0, last + 1).astype(np.int64)
    hi = np.clip(np.floor(uv.max(axis=1) - 0.5), -1, last).astype(np.int64)
    wh = np.where(keep[:, None], np.maximum(hi - lo + 1, 0), 0)
    return _Setup(coef, (1.0 / zs).T.copy(), lo.T.copy(), wh.T.copy())


def _batches(counts: np.ndarray):
    """Consecutive triangle ranges whose candidate pairs stay near MAX_PAIRS (>= 1 triangle)."""
    ends = np.cumsum(counts)
    start = 0
    while start < len(counts):
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + MAX_PAIRS, side="right")), start + 1)
        yield start, stop
        start = stop


def _candidates(tri, setup: _Setup, size: int):
    """Inside (triangle, pixel) pairs of triangles `tri`: pixel, face, l1, l2, depth."""
    counts = setup.wh[0, tri] * setup.wh[1, tri]
    tri, counts = tri[counts > 0], counts[counts > 0]
    pair_tri = np.repeat(tri, counts)
    local = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    width = setup.wh[0, pair_tri]
    row = local // width
    x = setup.lo[0, pair_tri] + local - row * width
    y = setup.lo[1, pair_tri] + row
    xc, yc = x + 0.5, y + 0.5
    a1, b1, c1, a2, b2, c2 = (k[pair_tri] for k in setup.coef)
    l1 = a1 * xc + b1 * yc + c1
    l2 = a2 * xc + b2 * yc + c2
    # A small tolerance: pixel centres on a shared edge belong to both triangles (no cracks).
    inside = (l1 >= -EDGE_EPS) & (l2 >= -EDGE_EPS) & (l1 + l2 <= 1 + EDGE_EPS)
    pair_tri, l1, l2 = pair_tri[inside], l1[inside], l2[inside]
    iz = setup.inv_z[:, pair_tri]
    # Perspective: 1/z, not z, is affine in screen space.
    depth = 1.0 / ((1.0 - l1 - l2) * iz[0] + l1 * iz[1] + l2 * iz[2])
    return y[inside] * size + x[inside], pair_tri, l1, l2, depth


def rasterize(verts_cam, faces, camera) -> Fragments:
    """The z-buffer: for every covered pixel, the nearest triangle and where it was hit.

    Per batch, `np.minimum.at` lowers the depth buffer; the pairs matching it are the
    winners, and `np.maximum.at` over pair indices keeps exactly one per pixel, so ties
    (pixel centres on a shared edge) go deterministically to the later face.
    """
    clipped, source, corner_bary = _clip_near(verts_cam[faces])
    setup = _triangle_setup(clipped, camera)
    n_pix = camera.size ** 2
    zbuf = np.full(n_pix, np.inf)
    face = np.full(n_pix, -1, np.int64)
    bary = np.zeros((2, n_pix))
    for start, stop in _batches(setup.wh[0] * setup.wh[1]):
        pix, tri, l1, l2, depth = _candidates(np.arange(start, stop), setup, camera.size)
        np.minimum.at(zbuf, pix, depth)
        hit = np.flatnonzero(depth == zbuf[pix])
        best = np.full(n_pix, -1, np.int64)
        np.maximum.at(best, pix[hit], hit)
        win = hit[best[pix[hit]] == hit]
        face[pix[win]], bary[0, pix[win]], bary[1, pix[win]] = tri[win], l1[win], l2[win]
    covered = np.flatnonzero(face >= 0)
    tri = face[covered]
    l1, l2 = bary[:, covered]
    # Attributes interpolate with lambda_i / z_i, renormalised (perspective-correct).
    w = np.stack([1.0 - l1 - l2, l1, l2], axis=1) * setup.inv_z[:, tri].T
    w /= w.sum(axis=1, keepdims=True)
    if corner_bary is not None:   # from the clipped triangle's corners to the source face's
        w = np.einsum("nc,nck->nk", w, corner_bary[tri])
    return Fragments(covered, source[tri], w, zbuf[covered])


def check_scene(entities, camera) -> None:
    """TypeError or ValueError naming the first bad input: the camera, then each entity."""
    if not isinstance(camera, Camera):
        raise TypeError(f"camera must be a Camera, got {type(camera).__name__}")
    camera.validate()
    if len(entities) == 0:
        raise ValueError("render needs at least one entity, got an empty list")
    for i, e in enumerate(entities):
        if not isinstance(e, Entity):
            raise TypeError(f"entity {i} must be an Entity, got {type(e).__name__}")
        e.validate(f"entity {i}")


def depth_and_ids(entities: list[Entity], camera: Camera):
    """The z-buffer itself: depth (H, W) float, inf on background; entity index (H, W),
    -1 on background; face index within that entity (H, W), -1 on background."""
    check_scene(entities, camera)
    verts, faces, owner = concatenate(entities)
    frags = rasterize(camera.to_camera(verts), faces, camera)
    offsets = np.cumsum([0] + [len(e.faces) for e in entities])
    n = camera.size
    depth = np.full(n * n, np.inf)
    entity = np.full(n * n, -1, np.int64)
    face = np.full(n * n, -1, np.int64)
    depth[frags.pixel] = frags.depth
    entity[frags.pixel] = owner[frags.face]
    face[frags.pixel] = frags.face - offsets[entity[frags.pixel]]
    return depth.reshape(n, n), entity.reshape(n, n), face.reshape(n, n)
