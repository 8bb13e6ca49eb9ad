"""The CPU renderer against pinhole geometry worked out by hand.

Most scenes use the "identity" camera: at the origin, looking along +z, image rows along
+y, so camera coordinates equal world coordinates and a point (x, y, z) lands at column
F * x / z + S / 2, row F * y / z + S / 2 (pixel j is sampled at its centre j + 0.5).

`python tests/synth/test_render.py` writes /tmp/render_check.png (a sphere touching a
checkered box) for a look by eye.
"""

from pathlib import Path

import numpy as np
import pytest

from haco.synth.capture import BACKGROUNDS
from haco.synth.paint import render
from haco.synth.raster import (
    NEAR,
    TEXTURES,
    Camera,
    Entity,
    depth_and_ids,
    hand_centred_camera,
    project,
)

S, F = 64, 50.0   # image side and focal length (pixels) of the identity camera


def identity_camera(size=S, focal=F):
    return Camera(position=(0, 0, 0), look_at=(0, 0, 1), up=(0, -1, 0), focal=focal, size=size)


def quad(x0, x1, y0, y1, z, colour=(1.0, 1.0, 1.0), flip=False, **kw):
    """An axis-aligned rectangle at depth z; by default its normal points at the camera."""
    verts = [(x0, y0, z), (x1, y0, z), (x1, y1, z), (x0, y1, z)]
    faces = np.array([[0, 2, 1], [0, 3, 2]])
    return Entity(verts, faces[:, ::-1] if flip else faces, colour, **kw)


def pixel_centres(size=S):
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    return cols, rows


def expected_rect_mask(x0, x1, y0, y1, z, size=S, focal=F):
    cols, rows = pixel_centres(size)
    u0, u1 = focal * x0 / z + size / 2, focal * x1 / z + size / 2
    v0, v1 = focal * y0 / z + size / 2, focal * y1 / z + size / 2
    return (cols >= u0) & (cols <= u1) & (rows >= v0) & (rows <= v1)


@pytest.mark.parametrize("flip", [False, True])
def test_quad_covers_its_projection(flip):
    # Edges chosen off pixel centres so the expected mask is unambiguous.
    box = (-0.203, 0.311, -0.117, 0.252, 1.3)
    depth, entity, face = depth_and_ids([quad(*box, flip=flip)], identity_camera())
    mask = expected_rect_mask(*box)
    assert mask.sum() > 100
    np.testing.assert_array_equal(entity == 0, mask)  # either winding: no back-face culling
    np.testing.assert_allclose(depth[mask], 1.3)
    assert np.isinf(depth[~mask]).all() and (face[~mask] == -1).all()
    assert set(np.unique(face[mask])) == {0, 1}


def test_tilted_triangle_coverage_and_perspective_depth():
    verts = np.array([[-0.4, -0.3, 1.0], [0.5, -0.1, 2.5], [0.0, 0.6, 1.6]])
    tri = Entity(verts, [[0, 1, 2]], (0.5, 0.5, 0.5))
    depth, entity, _ = depth_and_ids([tri], identity_camera())
    # Reference coverage: sign tests against the projected (straight) edges.
    uv = F * verts[:, :2] / verts[:, 2:] + S / 2
    cols, rows = pixel_centres()
    side = [(uv[j, 0] - uv[i, 0]) * (rows - uv[i, 1]) - (uv[j, 1] - uv[i, 1]) * (cols - uv[i, 0])
            for i, j in [(0, 1), (1, 2), (2, 0)]]
    inside = np.all([s >= 0 for s in side], axis=0) | np.all([s <= 0 for s in side], axis=0)
    np.testing.assert_array_equal(entity == 0, inside)
    # Depth along each pixel's ray: the plane n . X = k hit by ray d = ((u-c)/F, (v-c)/F, 1).
    normal = np.cross(verts[1] - verts[0], verts[2] - verts[0])
    rays = np.stack([(cols - S / 2) / F, (rows - S / 2) / F, np.ones_like(cols)], axis=-1)
    plane_z = normal @ verts[0] / (rays @ normal)
    np.testing.assert_allclose(depth[inside], plane_z[inside], rtol=1e-9)


@pytest.mark.parametrize("near_first", [True, False])
def test_near_square_occludes_far_square(near_first):
    near = quad(-0.3, 0.1, -0.3, 0.1, 1.0, colour=(1.0, 0.0, 0.0))
    # The far square is tilted (z grows with x) to check depth against the analytic plane.
    far_verts = [(-0.2, -0.2, 2.0), (0.6, -0.2, 2.4), (0.6, 0.6, 2.4), (-0.2, 0.6, 2.0)]
    far = Entity(far_verts, [[0, 2, 1], [0, 3, 2]], (0.0, 0.0, 1.0))
    scene = [near, far] if near_first else [far, near]
    near_id, far_id = (0, 1) if near_first else (1, 0)
    cam = identity_camera()
    depth, entity, _ = depth_and_ids(scene, cam)
    near_mask = expected_rect_mask(-0.3, 0.1, -0.3, 0.1, 1.0)
    np.testing.assert_array_equal(entity == near_id, near_mask)
    np.testing.assert_allclose(depth[near_mask], 1.0)
    # Far plane z = 2 + 0.5 (x + 0.2): along ray (a, b, 1), z = (2.1) / (1 - 0.5 a).
    cols, _ = pixel_centres()
    far_only = entity == far_id
    assert far_only.sum() > 200 and (near_mask & far_only).sum() == 0
    a = (cols - S / 2) / F
    np.testing.assert_allclose(depth[far_only], 2.1 / (1 - 0.5 * a[far_only]), rtol=1e-9)
    image = render(scene, cam, np.random.default_rng(0), light_dir=(0, 0, -1)).astype(int)
    assert (image[near_mask][:, 0] > image[near_mask][:, 2] + 50).all()   # red wins
    assert (image[far_only][:, 2] > image[far_only][:, 0] + 50).all()     # blue behind


@pytest.mark.parametrize("view_dir", [(0, 0, 1), (0.3, -0.5, -1.0), (0, 1, 0)])
@pytest.mark.parametrize("fill", [0.5, 0.8])
def test_hand_centred_camera_fills_and_centres(view_dir, fill):
    rng = np.random.default_rng(3)
    cloud = rng.normal(size=(500, 3)) * [0.05, 0.08, 0.02] + [0.3, -0.1, 0.2]
    cam = hand_centred_camera(cloud, view_dir, size=128, fill=fill, distance=0.4)
    uv, z = project(cloud, cam)
    assert (z > 0).all()
    lo, hi = uv.min(0), uv.max(0)
    assert (hi - lo).max() == pytest.approx(fill * 128, rel=1e-6)
    np.testing.assert_allclose((lo + hi) / 2, 64, atol=0.01)
    centre = (cloud.min(0) + cloud.max(0)) / 2
    view = np.asarray(view_dir) / np.linalg.norm(view_dir)
    np.testing.assert_allclose(cam.position, centre - 0.4 * view)


def test_determinism_and_seed_dependence():
    ball = Entity(*sphere(0.1, (0, 0, 1)), (0.7, 0.5, 0.4), texture="noise")
    cube = box_entity((0.2, 0.2, 0.2), (0.15, 0.05, 1.2), texture="checker")
    cam = identity_camera(size=48)
    ent = [ball, cube]
    first = render(ent, cam, np.random.default_rng(7))
    assert first.dtype == np.uint8 and first.shape == (48, 48, 3)
    assert render(ent, cam, np.random.default_rng(7)).tobytes() == first.tobytes()
    other = render(ent, cam, np.random.default_rng(8))
    _, entity, _ = depth_and_ids(ent, cam)
    assert not np.array_equal(first[entity == -1], other[entity == -1])  # background
    assert not np.array_equal(first[entity == 0], other[entity == 0])    # light / jitter


def test_small_batches_give_the_same_zbuffer(monkeypatch):
    import haco.synth.raster as render_module

    scene = [Entity(*sphere(0.1, (0, 0, 1)), (0.7, 0.5, 0.4)),
             box_entity((0.2, 0.2, 0.2), (0.15, 0.05, 1.2)),
             quad(-2, 2, -2, 2, 1.5)]   # huge: one triangle alone exceeds a batch
    cam = identity_camera(size=48)
    whole = depth_and_ids(scene, cam)
    monkeypatch.setattr(render_module, "MAX_PAIRS", 50)
    for a, b in zip(whole, depth_and_ids(scene, cam)):
        np.testing.assert_array_equal(a, b)


def test_backgrounds():
    tiny = quad(-0.01, 0.01, -0.01, 0.01, 5.0)   # covers no pixel centre
    cam = identity_camera()
    for kind in BACKGROUNDS:
        image = render([tiny], cam, np.random.default_rng(1), background=kind).astype(int)
        distinct_rows = len(np.unique(image.reshape(S, -1), axis=0))
        distinct_cols = len(np.unique(image.transpose(1, 0, 2).reshape(S, -1), axis=0))
        if kind == "solid":
            assert distinct_rows == distinct_cols == 1 and len(np.unique(image[0], axis=0)) == 1
        else:
            assert max(distinct_rows, distinct_cols) > 1
    kinds = {render([tiny], cam, np.random.default_rng(s)).tobytes() for s in range(8)}
    assert len(kinds) == 8
    with pytest.raises(ValueError, match="unknown background 'sky'.*known: solid"):
        render([tiny], cam, np.random.default_rng(0), background="sky")


def test_ground_plane_from_above_fills_the_image():
    ground = Entity([(-20, 0, -20), (20, 0, -20), (20, 0, 20), (-20, 0, 20)],
                    [[0, 2, 1], [0, 3, 2]], (0.4, 0.6, 0.3), texture="checker",
                    texture_scale=0.1)
    cam = Camera(position=(0.3, 1.5, -0.2), look_at=(0.5, 0, 0.4), up=(0, 0, 1), focal=60,
                 size=64)
    depth, entity, _ = depth_and_ids([ground], cam)
    assert (entity == 0).all()
    # Ground y = 0 along each pixel's ray from the camera: depth = 1.5 / -(ray . y) per unit z.
    rot = cam.rotation()
    cols, rows = pixel_centres(64)
    rays = np.stack([(cols - 32) / 60, (rows - 32) / 60, np.ones_like(cols)], -1) @ rot
    np.testing.assert_allclose(depth, 1.5 / -rays[..., 1], rtol=1e-9)
    image = render([ground], cam, np.random.default_rng(0))
    assert len(np.unique(image.reshape(-1, 3), axis=0)) == 2   # a flat, checkered plane


def ray_hits(verts, size=S, focal=F):
    """Reference: camera z where each pixel's ray meets triangle `verts` (3, 3), else inf."""
    cols, rows = pixel_centres(size)
    rays = np.stack([(cols - size / 2) / focal, (rows - size / 2) / focal, np.ones_like(cols)],
                    axis=-1)
    # Solve t * ray = v0 + s1 (v1 - v0) + s2 (v2 - v0) for every pixel at once.
    mats = np.stack([rays, np.broadcast_to(verts[0] - verts[1], rays.shape),
                     np.broadcast_to(verts[0] - verts[2], rays.shape)], axis=-1)
    rhs = np.broadcast_to(verts[0], rays.shape)[..., None]
    t, s1, s2 = np.moveaxis(np.linalg.solve(mats, rhs)[..., 0], -1, 0)
    inside = (s1 >= 0) & (s2 >= 0) & (s1 + s2 <= 1) & (t >= NEAR)
    return np.where(inside, t, np.inf)


@pytest.mark.parametrize("corners_behind", [1, 2])
def test_triangles_crossing_the_near_plane_are_clipped(corners_behind):
    verts = np.array([[-0.6, -0.5, -0.5], [0.7, -0.4, 2.0], [0.1, 0.8, 1.5]])
    if corners_behind == 2:
        verts[2, 2] = -0.3
    depth, entity, face = depth_and_ids([Entity(verts, [[0, 1, 2]], (1, 1, 1))],
                                        identity_camera())
    expected = ray_hits(verts)
    assert np.isfinite(expected).sum() > 100 and np.isinf(expected).sum() > 100
    np.testing.assert_array_equal(entity == 0, np.isfinite(expected))
    np.testing.assert_allclose(depth, expected, rtol=1e-9)
    assert set(np.unique(face)) == {-1, 0}


def test_triangle_wholly_behind_the_near_plane_is_dropped():
    behind = Entity([(-1, -1, -0.5), (1, -1, NEAR / 2), (0, 1, -2)], [[0, 1, 2]], (1, 1, 1))
    _, entity, _ = depth_and_ids([behind], identity_camera())
    assert (entity == -1).all()


def test_face_towards_the_light_is_brighter_than_grazing():
    facing = quad(-0.4, -0.05, -0.2, 0.2, 1.0)
    # Rotated 80 degrees about the y axis: seen nearly edge-on, still a few pixels wide.
    c, s = np.cos(np.radians(80)), np.sin(np.radians(80))
    graze = [(0.05, -0.2, 1.0), (0.05 + 0.5 * c, -0.2, 1.0 + 0.5 * s),
             (0.05 + 0.5 * c, 0.2, 1.0 + 0.5 * s), (0.05, 0.2, 1.0)]
    scene = Entity(np.vstack([facing.vertices, graze]),
                   np.vstack([facing.faces, facing.faces + 4]), (0.8, 0.8, 0.8))
    cam = identity_camera()
    _, _, face = depth_and_ids([scene], cam)
    for seed in range(3):
        image = render([scene], cam, np.random.default_rng(seed), light_dir=(0, 0, -1))
        grey = image.astype(float).mean(axis=-1)
        lit, grazing = grey[(face == 0) | (face == 1)].mean(), grey[face >= 2].mean()
        assert (face >= 2).sum() > 10 and lit > grazing + 40
    # Back-lit (light behind the facing quad): only ambient remains.
    dark = render([scene], cam, np.random.default_rng(0), light_dir=(0, 0, 1))
    assert dark.astype(float).mean(-1)[(face == 0) | (face == 1)].mean() < lit - 80


def test_winding_does_not_change_the_picture():
    """Outward faces are the contract, but an inside-out mesh must not render dark."""
    outward = box_entity((0.3, 0.2, 0.25), (0.05, 0.0, 1.0), texture="checker")
    inward = Entity(outward.vertices, outward.faces[:, ::-1], outward.colour, texture="checker")
    cam = Camera((0.5, -0.4, 0.2), (0.05, 0, 1.0), (0, -1, 0), 60.0, 48)
    image = render([outward], cam, np.random.default_rng(4))
    assert render([inward], cam, np.random.default_rng(4)).tobytes() == image.tobytes()
    _, entity, _ = depth_and_ids([outward], cam)
    assert image[entity == 0].mean() > 60   # lit, not only ambient on back faces


def test_nothing_in_view_gives_the_background():
    behind = quad(-0.1, 0.1, -0.1, 0.1, -1.0)
    cam = identity_camera()
    image = render([behind], cam, np.random.default_rng(5), background="solid")
    assert len(np.unique(image.reshape(-1, 3), axis=0)) == 1


@pytest.mark.parametrize("texture", TEXTURES)
def test_textures_on_a_flat_face(texture):
    plate = quad(-0.4, 0.4, -0.4, 0.4, 1.0, colour=(0.9, 0.9, 0.9), texture=texture,
                 texture_scale=0.1)
    image = render([plate], identity_camera(), np.random.default_rng(2), light_dir=(0, 0, -1))
    mask = expected_rect_mask(-0.4, 0.4, -0.4, 0.4, 1.0)
    levels = len(np.unique(image[mask], axis=0))
    expected = {"plain": 1, "checker": 2, "stripes": 2}   # flat face: constant Lambert
    assert levels == expected[texture] if texture in expected else levels > 10


def test_bad_input():
    ok = quad(-0.1, 0.1, -0.1, 0.1, 1.0)
    cam = identity_camera()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="at least one entity"):
        render([], cam, rng)
    with pytest.raises(ValueError, match=r"face indices must lie in \[0, 4\)"):
        Entity(ok.vertices, [[0, 1, 4]], (1, 1, 1))
    with pytest.raises(ValueError, match="face indices"):
        Entity(ok.vertices, [[0, 1, -1]], (1, 1, 1))
    with pytest.raises(ValueError, match="NaN"):
        Entity(np.where(np.eye(4, 3) == 1, np.nan, ok.vertices), ok.faces, (1, 1, 1))
    with pytest.raises(ValueError, match="size must be an int >= 8"):
        identity_camera(size=4)
    with pytest.raises(ValueError, match="unknown texture 'wood'"):
        Entity(ok.vertices, ok.faces, (1, 1, 1), texture="wood")
    with pytest.raises(ValueError, match="faces must be a non-empty"):
        Entity(ok.vertices, np.zeros((2, 3)), (1, 1, 1))
    with pytest.raises(ValueError, match="parallel"):
        Camera((0, 0, 0), (0, 1, 0), (0, 1, 0), 50.0, 32)
    with pytest.raises(TypeError, match="numpy Generator"):
        render([ok], cam, 0)
    with pytest.raises(ValueError, match="inside the hand's extent"):
        hand_centred_camera(ok.vertices, (0, 0, 1), 64, distance=0.0 + 1e-4)
    with pytest.raises(ValueError, match="view_dir must be a non-zero"):
        hand_centred_camera(ok.vertices, (0, 0, 0), 64)
    # Mutated after construction: caught at render time, naming the entity.
    ok.vertices[0, 0] = np.nan
    with pytest.raises(ValueError, match="entity 0: vertices contain NaN"):
        depth_and_ids([ok], cam)


def sphere(radius, centre, subdivisions=2):
    import trimesh

    mesh = trimesh.creation.icosphere(subdivisions, radius=radius)
    return mesh.vertices + centre, mesh.faces


def box_entity(extents, centre, **kw):
    import trimesh

    mesh = trimesh.creation.box(extents)
    return Entity(mesh.vertices + centre, mesh.faces, (0.2, 0.45, 0.85), **kw)


def render_check(path: Path, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A skin-coloured sphere resting on (and touching) a checkered box, hand-centred view."""
    import matplotlib.pyplot as plt

    ball = Entity(*sphere(0.04, (0.0, 0.04, 0.0), subdivisions=3), (0.87, 0.66, 0.53),
                  is_hand=True)
    cube = box_entity((0.12, 0.06, 0.1), (0.03, -0.03, 0.01), texture="checker",
                      texture_scale=0.03)
    cam = hand_centred_camera(np.vstack([ball.vertices, cube.vertices]), (0.4, -0.5, 1.0),
                              size, fill=0.85)
    image = render([ball, cube], cam, np.random.default_rng(0), background="gradient")
    plt.imsave(path, image)
    return image, depth_and_ids([ball, cube], cam)[1]


def test_render_check_picture(tmp_path):
    image, entity = render_check(tmp_path / "render_check.png")
    assert (tmp_path / "render_check.png").stat().st_size > 1000
    assert (entity == 0).sum() > 1000 and (entity == 1).sum() > 1000
    ball = image[entity == 0].astype(float)
    assert ball[:, 0].mean() > ball[:, 2].mean() + 40    # skin, not the blue box
    assert ball.mean(-1).std() > 10                      # shaded, not flat


if __name__ == "__main__":
    render_check(Path("/tmp/render_check.png"), size=256)
    print("wrote /tmp/render_check.png")
