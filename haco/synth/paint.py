"""The painting of the synthetic twins: backgrounds, textures, light and shading.

The rasterizer (haco/synth/raster.py) says which triangle every pixel sees and where; this
module gives those pixels their colour (base colour x jitter x texture x Lambert, smooth
normals unless a crease) over a random background, in a capture style (haco.synth.capture).
Same inputs and same `rng` state give identical bytes.
"""

from __future__ import annotations

import numpy as np

from haco.synth.capture import BACKGROUNDS, NEUTRAL, CaptureStyle
from haco.synth.raster import Camera, Entity, check_scene, concatenate, rasterize

# Smooth (interpolated) normals unless a vertex normal strays this far (cosine) from the
# face normal: spheres and hands look round, box edges stay crisp.
CREASE_COS = 0.8


def _corner_normals(verts, faces):
    """Unit face normals (F, 3) and per-corner shading normals (F, 3, 3).

    A corner takes the area-weighted vertex normal unless that strays beyond CREASE_COS
    from the face normal (a box edge), in which case it keeps the flat face normal.
    """
    tri = verts[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])   # length = 2 * area
    face_n = cross / np.maximum(np.linalg.norm(cross, axis=1, keepdims=True), 1e-20)
    vert_n = np.stack([np.bincount(faces.ravel(), np.repeat(cross[:, k], 3), len(verts))
                       for k in range(3)], axis=1)
    vert_n /= np.maximum(np.linalg.norm(vert_n, axis=1, keepdims=True), 1e-20)
    corner = vert_n[faces]
    smooth = np.einsum("fck,fk->fc", corner, face_n) > CREASE_COS
    return face_n, np.where(smooth[..., None], corner, face_n[:, None, :])


def _hash01(ix, iy, iz, seed: int) -> np.ndarray:
    """A deterministic integer-lattice hash to [0, 1) (uint64 arithmetic wraps silently)."""
    m = np.uint64(0xFFFFFFFF)
    h = (ix.astype(np.uint64) * np.uint64(73856093) ^ iy.astype(np.uint64) * np.uint64(19349663)
         ^ iz.astype(np.uint64) * np.uint64(83492791) ^ np.uint64(seed)) & m
    h = ((h ^ (h >> np.uint64(16))) * np.uint64(0x45D9F3B)) & m
    h = ((h ^ (h >> np.uint64(16))) * np.uint64(0x45D9F3B)) & m
    return (h ^ (h >> np.uint64(16))).astype(np.float64) / 2.0**32


def _texture(kind: str, points: np.ndarray, scale: float, rng) -> np.ndarray:
    """Brightness factor in [~0.5, 1] from world positions, so the pattern sticks to the
    surface. Parameters come from `rng` even for "plain", keeping draws per entity equal."""
    contrast = rng.uniform(0.25, 0.5)
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    offset = rng.uniform(0, 1, size=3)
    seed = int(rng.integers(2**31))
    q = points / scale + offset
    if kind == "checker":
        pattern = np.floor(q).sum(axis=1) % 2
    elif kind == "stripes":
        pattern = np.floor(2 * (points @ direction) / scale + offset[0]) % 2
    elif kind == "noise":
        pattern = 0.65 * value_noise(q, seed) + 0.35 * value_noise(3 * q, seed + 1)
    else:
        pattern = np.zeros(len(points))
    return 1.0 - contrast * pattern


def _smoothstep(f):
    return f * f * (3 - 2 * f)   # no visible creases at lattice lines


def value_noise(points: np.ndarray, seed: int) -> np.ndarray:
    """Smooth 3D value noise in [0, 1] at unit lattice spacing, for (N, 3) points."""
    cell = np.floor(points)
    f = _smoothstep(points - cell).T                   # (3, N)
    i = cell.astype(np.int64).T
    out = np.zeros(len(points))
    for dx, dy, dz in np.ndindex(2, 2, 2):
        weight = (f[0] if dx else 1 - f[0]) * (f[1] if dy else 1 - f[1])
        weight *= f[2] if dz else 1 - f[2]
        out += weight * _hash01(i[0] + dx, i[1] + dy, i[2] + dz, seed)
    return out


def _lattice_noise(size: int, cell: float, rng) -> np.ndarray:
    """(size, size) smooth 2D value noise in [0, 1]: random lattice values every `cell`
    pixels, smoothstep-interpolated (separable, so cheap at any image size)."""
    t = (np.arange(size) + 0.5) / cell
    i = np.floor(t).astype(np.int64)
    f = _smoothstep(t - i)
    grid = rng.random((i[-1] + 2, i[-1] + 2))
    rows = grid[i] * (1 - f[:, None]) + grid[i + 1] * f[:, None]       # interpolate rows
    return rows[:, i] * (1 - f) + rows[:, i + 1] * f                    # then columns


def make_background(kind: str | None, size: int, rng: np.random.Generator,
                    style: CaptureStyle = NEUTRAL) -> np.ndarray:
    """A random (size, size, 3) float background; `kind=None` picks one of the style's kinds.
    Its two colours come from the style's brightness range, mixed towards grey by its
    saturation."""
    if kind is None:
        kind = style.backgrounds[int(rng.integers(len(style.backgrounds)))]
    if kind not in BACKGROUNDS:
        raise ValueError(f"unknown background {kind!r}; known: {', '.join(BACKGROUNDS)}")
    a, b = rng.uniform(*style.brightness, size=(2, 3))
    if style.saturation < 1:
        a, b = (c.mean() + style.saturation * (c - c.mean()) for c in (a, b))
    rows = (np.arange(size)[:, None] + 0.5) / size       # broadcast, not (size, size) grids
    cols = rows.T
    if kind == "solid":
        t = np.zeros((1, 1))
    elif kind == "gradient":
        t = rows if rng.random() < 0.5 else cols
    elif kind == "stripes":
        angle, period = rng.uniform(0, np.pi), rng.uniform(1 / 16, 1 / 4)
        t = np.floor(2 * (np.cos(angle) * cols + np.sin(angle) * rows) / period) % 2
    else:
        cell = size * rng.uniform(1 / 12, 1 / 4)
        t = 0.7 * _lattice_noise(size, cell, rng) + 0.3 * _lattice_noise(size, cell / 4, rng)
    t = np.broadcast_to(t, (size, size))
    return a + (b - a) * t[..., None]


def _light(camera: Camera, rng, light_dir=None,
           style: CaptureStyle = NEUTRAL) -> tuple[np.ndarray, float, float, np.ndarray]:
    """Unit world direction towards the light, ambient, diffuse (from the style's ranges)
    and an RGB tint (the style's white balance, mildly jittered).

    The random direction lies within ~50 degrees of the direction towards the camera (a
    light from the camera side); `light_dir` overrides it. Same draws either way.
    """
    towards = np.array([*rng.uniform(-0.8, 0.8, size=2), -1.0])   # camera frame: -z = viewer
    direction = camera.rotation().T @ towards
    if light_dir is not None:
        direction = np.asarray(light_dir, np.float64)
        if direction.shape != (3,) or not np.linalg.norm(direction) > 0:
            raise ValueError(f"light_dir must be a non-zero 3-vector, got {light_dir}")
    ambient, diffuse = rng.uniform(*style.ambient), rng.uniform(*style.diffuse)
    tint = (1.0 + rng.uniform(-0.05, 0.05, size=3)) * np.asarray(style.tint)
    return direction / np.linalg.norm(direction), ambient, diffuse, tint


def _shade(entities, camera, verts, faces, owner, frags, rng, light_dir, style) -> np.ndarray:
    """RGB in [0, 1] for each fragment: base colour x jitter x texture x Lambert."""
    light, ambient, diffuse, tint = _light(camera, rng, light_dir, style)
    face_n, corner_n = _corner_normals(verts, faces)
    w = frags.weights[:, :, None]
    points = (w * verts[faces[frags.face]]).sum(axis=1)
    normals = (w * corner_n[frags.face]).sum(axis=1)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-20)
    # A face seen from behind (an open surface) is lit on the side the camera sees.
    facing = np.einsum("nk,nk->n", face_n[frags.face], camera.position - points)
    normals *= np.where(facing < 0, -1.0, 1.0)[:, None]
    lambert = ambient + diffuse * np.clip(normals @ light, 0, 1)
    rgb = np.empty((len(frags.pixel), 3))
    ent = owner[frags.face]
    for i, e in enumerate(entities):   # a loop over entities (few), not pixels
        mine = ent == i
        spread = 0.04 if e.is_hand else 0.08
        colour = np.asarray(e.colour) * (1 + rng.uniform(-spread, spread, size=3))
        rgb[mine] = colour * _texture(e.texture, points[mine], e.texture_scale, rng)[:, None]
    return np.clip(rgb * lambert[:, None] * tint, 0, 1)


def render(entities: list[Entity], camera: Camera, rng: np.random.Generator,
           background: str | None = None, *, light_dir=None,
           style: CaptureStyle = NEUTRAL) -> np.ndarray:
    """Render the entities over a random background: (size, size, 3) uint8.

    Random draws, in order: background, light, then per entity a colour jitter and texture
    parameters, then the sensor noise (none in the NEUTRAL style). `background=None` picks
    one of the style's backgrounds at random; `light_dir` (world, pointing towards the
    light) fixes the light's direction, for tests and figures. `style`
    (haco.synth.capture) sets the background palette, the light and the sensor noise.
    """
    check_scene(entities, camera)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    image = make_background(background, camera.size, rng, style).reshape(-1, 3)
    verts, faces, owner = concatenate(entities)
    frags = rasterize(camera.to_camera(verts), faces, camera)
    image[frags.pixel] = _shade(entities, camera, verts, faces, owner, frags, rng, light_dir,
                                style)
    if style.noise:
        image = image + rng.normal(0.0, style.noise, size=image.shape)
    image = np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)
    return image.reshape(camera.size, camera.size, 3)
