"""haco.labels: the fast method gives the paper's (trimesh) labels, on easy and nasty meshes.

A label may differ between methods only where the true distance is within 1e-6 m of the
threshold (rounding); the true distance comes from trimesh itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from haco.bench.labels import compare_methods
from haco.labels import (
    METHODS,
    THRESHOLDS,
    contact_distance,
    contact_labels,
    point_triangle_sq_dist,
)

N = 778
THR = 0.01
TOL = 1e-6  # metres: labels may differ only this close to the threshold


def true_distance(points, mesh) -> np.ndarray:
    vertices, faces = mesh if isinstance(mesh, tuple) else (mesh.vertices, mesh.faces)
    ref = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    return trimesh.proximity.ProximityQuery(ref).on_surface(points)[1]


def assert_parity(points, mesh, thr=THR, expect_mixed=True) -> np.ndarray:
    """Fast == trimesh (and == true distance < thr) except within TOL of thr; returns labels."""
    fast = contact_labels(points, mesh, thr, method="fast")
    ref = contact_labels(points, mesh, thr, method="trimesh")
    dist = true_distance(points, mesh)
    assert fast.dtype == bool and fast.shape == (N,)
    ambiguous = np.abs(dist - thr) < TOL
    bad = (fast != ref) & ~ambiguous
    assert not bad.any(), f"{bad.sum()} labels differ, distances {dist[bad][:5]}"
    assert not ((fast != (dist < thr)) & ~ambiguous).any()
    if expect_mixed:  # a case where every label is equal would test nothing
        assert 0 < fast.sum() < N, f"degenerate test case: {fast.sum()} contacts"
    return fast


def hand_cloud(rng, centre, size=(0.09, 0.19, 0.03)) -> np.ndarray:
    """778 points shaped like a hand: a noisy ellipsoid shell of hand size around `centre`."""
    direction = rng.normal(size=(N, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    shell = direction * np.asarray(size) / 2 * rng.uniform(0.8, 1.0, size=(N, 1))
    return shell + np.asarray(centre)


# --- parity -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_parity_hand_cloud_near_random_mesh(seed):
    rng = np.random.default_rng(seed)
    kind = seed % 3
    if kind == 0:  # bumpy sphere
        mesh = trimesh.creation.icosphere(subdivisions=4, radius=0.05)
        mesh.vertices += rng.normal(scale=0.002, size=mesh.vertices.shape)
    elif kind == 1:  # a randomly rotated box, mixed face sizes
        mesh = trimesh.creation.box(extents=rng.uniform(0.03, 0.2, size=3))
        mesh.apply_transform(trimesh.transformations.random_rotation_matrix(rng.random(3)))
        mesh = mesh.subdivide()
    else:  # a capsule: curved and flat-ish regions, long thin faces along the axis
        mesh = trimesh.creation.capsule(height=0.1, radius=0.03, count=[24, 24])
    centre = mesh.bounds.mean(axis=0) + rng.uniform(-0.05, 0.05, size=3)
    assert_parity(hand_cloud(rng, centre), mesh)


def test_parity_triangle_soup_with_slivers():
    # Random triangles, many long and thin, crossing each other: no structure to rely on.
    rng = np.random.default_rng(7)
    corners = rng.uniform(-0.1, 0.1, size=(300, 1, 3)) + rng.normal(scale=0.03, size=(300, 3, 3))
    vertices = corners.reshape(-1, 3)
    faces = np.arange(len(vertices)).reshape(-1, 3)
    points = rng.uniform(-0.15, 0.15, size=(N, 3))
    assert_parity(points, (vertices, faces), thr=0.02)


def test_parity_huge_ground_plane_beside_dense_object():
    # 2 triangles of 10 m next to 20k small ones: the size buckets must keep both exact.
    plane = trimesh.Trimesh(
        vertices=[[-5, -5, 0], [5, -5, 0], [5, 5, 0], [-5, 5, 0]], faces=[[0, 1, 2], [0, 2, 3]]
    )
    ball = trimesh.creation.icosphere(subdivisions=5, radius=0.04)
    ball.apply_translation([0.0, 0.0, 0.05])
    scene = trimesh.util.concatenate([plane, ball])
    rng = np.random.default_rng(1)
    points = rng.uniform([-0.06, -0.06, -0.02], [0.06, 0.06, 0.1], size=(N, 3))
    assert_parity(points, scene)


def test_parity_above_thin_plane_labels_are_height():
    # Points above/below a 2-triangle 10 m plane, some beyond its far edge at x = 5 m.
    vertices = np.array([[-5, -5, 0], [5, -5, 0], [5, 5, 0], [-5, 5, 0]], dtype=float)
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    rng = np.random.default_rng(2)
    points = np.column_stack(
        [rng.uniform(-0.1, 0.1, N), rng.uniform(-0.1, 0.1, N), rng.uniform(-0.02, 0.02, N)]
    )
    points[::4, 0] += 5.0  # around the edge x = 5: distance mixes edge and plane
    labels = assert_parity(points, (vertices, faces))
    inner = points[:, 0] < 4.98
    assert np.array_equal(labels[inner], np.abs(points[inner, 2]) < THR)


def test_parity_very_flat_box():
    box = trimesh.creation.box(extents=[0.2, 0.2, 1e-5])
    rng = np.random.default_rng(3)
    points = rng.uniform([-0.12, -0.12, -0.02], [0.12, 0.12, 0.02], size=(N, 3))
    assert_parity(points, box)


@pytest.mark.parametrize("shape", ["torus", "annulus"])
def test_parity_concave(shape):
    if shape == "torus":
        mesh = trimesh.creation.torus(major_radius=0.05, minor_radius=0.015)
    else:  # a mug-like open ring: inner wall faces the hole
        mesh = trimesh.creation.annulus(r_min=0.035, r_max=0.045, height=0.08)
    rng = np.random.default_rng(4)
    # Many points in the hole and in the inner ring, where the closest face is concave.
    radius = rng.uniform(0.0, 0.075, N)
    angle = rng.uniform(0, 2 * np.pi, N)
    points = np.column_stack(
        [radius * np.cos(angle), radius * np.sin(angle), rng.uniform(-0.05, 0.05, N)]
    )
    assert_parity(points, mesh)


def test_far_away_is_all_false():
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.05)
    points = hand_cloud(np.random.default_rng(5), centre=[10.0, 0.0, 0.0])
    for method in METHODS:
        assert not contact_labels(points, mesh, THR, method=method).any()


def test_touching_points_are_all_true():
    # On vertices, on faces, and just inside the surface (closer than thr to it).
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.05)
    rng = np.random.default_rng(6)
    on_faces, _ = trimesh.sample.sample_surface(mesh, 400, seed=6)
    on_vertices = mesh.vertices[rng.choice(len(mesh.vertices), 200, replace=False)]
    inside = on_vertices[:178] * (1 - rng.uniform(0, 0.15, size=(178, 1)))  # <= 7.5 mm deep
    points = np.concatenate([on_faces, on_vertices, inside])
    for method in METHODS:
        assert contact_labels(points, mesh, THR, method=method).all(), method


def test_parity_near_box_edges_and_corners():
    box = trimesh.creation.box(extents=[0.1, 0.06, 0.04])
    rng = np.random.default_rng(8)
    corners = box.vertices[rng.integers(0, 8, N // 2)]
    edges = box.vertices[box.edges_unique]
    pick = rng.integers(0, len(edges), N - N // 2)
    t = rng.random((len(pick), 1))
    on_edges = edges[pick, 0] + t * (edges[pick, 1] - edges[pick, 0])
    anchors = np.concatenate([corners, on_edges])
    # Outward-ish offsets whose length straddles the threshold.
    direction = np.sign(anchors) + rng.normal(scale=0.3, size=anchors.shape)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    points = anchors + direction * rng.uniform(THR - 0.002, THR + 0.002, size=(N, 1))
    assert_parity(points, box)


def test_parity_with_degenerate_faces_mixed_in():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.04)
    vertices = np.concatenate(
        [
            sphere.vertices,
            [[0.0, 0.0, 0.04], [0.0, 0.0, 0.07], [0.0, 0.0, 0.1]],  # a collinear spike
            [[0.06, 0.0, 0.0]],  # a lone point, as a collapsed face
        ]
    )
    n = len(sphere.vertices)
    degenerate = [[n, n + 1, n + 2], [n + 2, n, n + 1], [n + 3, n + 3, n + 3], [0, 0, 5]]
    faces = np.concatenate([sphere.faces, degenerate])
    rng = np.random.default_rng(9)
    # Around the spike and the lone point, where only degenerate faces are near.
    spike = np.column_stack(
        [
            rng.normal(scale=0.01, size=500),
            rng.normal(scale=0.01, size=500),
            rng.uniform(0.045, 0.11, 500),
        ]
    )
    lone = [0.06, 0.0, 0.0] + rng.normal(scale=0.008, size=(N - 500, 3))
    labels = assert_parity(np.concatenate([spike, lone]), (vertices, faces))
    # The spike counts as surface: points near it but far from the sphere are in contact.
    assert labels[:500][spike[:, 2] > 0.06].any()


def test_unreferenced_vertices_are_not_surface():
    # A vertex no face uses is not on the surface: it must not early-accept anything.
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.04)
    stray = [0.0, 0.0, 0.08]
    vertices = np.concatenate([sphere.vertices, [stray]])
    rng = np.random.default_rng(14)
    points = stray + rng.normal(scale=0.006, size=(N, 3))
    assert not contact_labels(points, (vertices, sphere.faces), THR).any()
    points[: N // 2, 2] -= 0.03  # half of them near the sphere instead
    assert_parity(points, (vertices, sphere.faces))


def test_point_triangle_distance_cases():
    tri = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    points = np.array(
        [
            [0.2, 0.2, 0.5],  # above the interior: plane distance
            [0.5, -0.3, 0.4],  # beside edge ab
            [-1.0, -1.0, 0.0],  # beyond corner a
            [0.6, 0.6, 0.0],  # in the plane, beyond the hypotenuse
        ]
    )
    expected = [0.25, 0.09 + 0.16, 2.0, 2 * 0.1**2]
    got = point_triangle_sq_dist(points, np.repeat(tri[None], len(points), axis=0))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    # A collinear (zero-area) triangle is its longest segment, here [0, 2] on the x axis.
    seg = np.array([[[0.0, 0, 0], [2, 0, 0], [1, 0, 0]]])
    np.testing.assert_allclose(point_triangle_sq_dist(np.array([[1.5, 0.3, 0]]), seg), [0.09])


def test_trimesh_input_and_tuple_input_agree():
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.05)
    points = hand_cloud(np.random.default_rng(10), centre=[0, 0, 0.07])
    as_tuple = (np.asarray(mesh.vertices), np.asarray(mesh.faces))
    for method in METHODS:
        assert np.array_equal(
            contact_labels(points, mesh, THR, method), contact_labels(points, as_tuple, THR, method)
        )


# --- bad input ----------------------------------------------------------------------------

GOOD_MESH = trimesh.creation.box(extents=[0.1, 0.1, 0.1])
GOOD_POINTS = np.full((N, 3), 0.05)  # on a corner of GOOD_MESH


def _with_nan(array):
    array = np.array(array, dtype=float)
    array[3, 1] = np.nan
    return array


@pytest.mark.parametrize(
    ("points", "mesh", "threshold", "method", "message"),
    [
        (np.zeros((21, 3)), GOOD_MESH, THR, "fast", r"shape \(778, 3\).*got shape \(21, 3\)"),
        (np.zeros((2, N, 3)), GOOD_MESH, THR, "fast", r"got shape \(2, 778, 3\)"),
        (_with_nan(GOOD_POINTS), GOOD_MESH, THR, "fast", "hand_vertices contain NaN or inf"),
        (
            GOOD_POINTS,
            (_with_nan(GOOD_MESH.vertices), GOOD_MESH.faces),
            THR,
            "fast",
            "mesh vertices contain NaN or inf",
        ),
        (GOOD_POINTS, (np.zeros((0, 3)), np.zeros((0, 3), int)), THR, "fast", "mesh is empty"),
        (GOOD_POINTS, (GOOD_MESH.vertices, np.zeros((0, 3), int)), THR, "fast", "mesh is empty"),
        (GOOD_POINTS, (np.zeros((3, 3)), [[0, 1, 2]]), THR, "fast", "~zero area"),
        (GOOD_POINTS, ([[0, 0, 0], [1, 0, 0], [2, 0, 0]], [[0, 1, 2]]), THR, "fast", "~zero area"),
        (GOOD_POINTS, (GOOD_MESH.vertices, GOOD_MESH.faces + 5), THR, "fast", "face indices"),
        (GOOD_POINTS, (GOOD_MESH.vertices, GOOD_MESH.faces - 1), THR, "fast", "face indices"),
        (GOOD_POINTS, GOOD_MESH, 0.0, "fast", "positive finite number"),
        (GOOD_POINTS, GOOD_MESH, -0.01, "fast", "positive finite number"),
        (GOOD_POINTS, GOOD_MESH, float("inf"), "fast", "positive finite number"),
        (GOOD_POINTS, GOOD_MESH, float("nan"), "fast", "positive finite number"),
        (GOOD_POINTS, GOOD_MESH, "1cm", "fast", "positive finite number"),
        (GOOD_POINTS, GOOD_MESH, True, "fast", "positive finite number"),
        (GOOD_POINTS, GOOD_MESH, THR, "kdtree", "unknown method 'kdtree'.*fast, trimesh"),
    ],
)
def test_bad_input_raises_naming_the_problem(points, mesh, threshold, method, message):
    with pytest.raises(ValueError, match=message):
        contact_labels(points, mesh, threshold, method=method)


def test_good_input_of_the_bad_input_test_is_accepted():
    # Guards the test above: its failures must come from the one bad argument.
    for method in METHODS:
        assert contact_labels(GOOD_POINTS, GOOD_MESH, THR, method).all()


# --- thresholds table ---------------------------------------------------------------------


def test_thresholds_table():
    names = "ObMan DexYCB MOW HO3D H2O3D ARCTIC HOI4D H2O InterHand2.6M HIC PROX RICH Decaf Hi4D"
    assert list(THRESHOLDS) == names.split()
    for name in ["ObMan", "DexYCB", "HO3D", "H2O3D", "ARCTIC", "HOI4D", "H2O", "PROX"]:
        assert contact_distance(name) == 0.01
    assert contact_distance("MOW") == 0.035
    assert contact_distance("InterHand2.6M") == contact_distance("HIC") == 0.005
    assert {THRESHOLDS[n] for n in ("RICH", "Decaf", "Hi4D")} == {"provided"}


@pytest.mark.parametrize("name", ["RICH", "Decaf", "Hi4D"])
def test_contact_distance_of_provided_labels_raises(name):
    with pytest.raises(ValueError, match=f"{name}.*labels come with the dataset"):
        contact_distance(name)


def test_contact_distance_of_an_unknown_dataset_lists_known():
    with pytest.raises(KeyError, match="unknown dataset 'obman'.*ObMan, DexYCB"):
        contact_distance("obman")


# --- benchmark core -----------------------------------------------------------------------


def test_compare_methods_small_case():
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.05)
    points = hand_cloud(np.random.default_rng(11), centre=[0, 0, 0.07])
    result = compare_methods(points, mesh, THR, repeats=2)
    assert set(result) == {
        "trimesh_ms",
        "fast_ms",
        "speedup",
        "differing",
        "contacts",
        "vertices",
        "faces",
    }
    assert result["differing"] == 0
    assert result["vertices"] == N and result["faces"] == len(mesh.faces)
    assert result["contacts"] == contact_labels(points, mesh, THR, "trimesh").sum() > 0
    assert result["speedup"] == pytest.approx(result["trimesh_ms"] / result["fast_ms"])
    with pytest.raises(ValueError, match="repeats"):
        compare_methods(points, mesh, THR, repeats=0)


@pytest.mark.slow
def test_fast_agrees_with_trimesh_on_a_dense_mesh():
    """The two methods side by side on a dense mesh; their speed ratio is a benchmark's to
    print (`haco bench labels`), never a test's to assert: the machines are noisy."""
    mesh = trimesh.creation.icosphere(subdivisions=5, radius=0.04)
    points = hand_cloud(np.random.default_rng(12), centre=[0, 0, 0.05])
    result = compare_methods(points, mesh, THR, repeats=1)
    assert result["differing"] == 0 and result["contacts"] > 0
    assert result["speedup"] > 0


def test_fast_does_not_cache_between_calls():
    # Timing fairness and correctness: nothing may be cached per mesh object, so moving
    # the same arrays in place must change the labels.
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.05)
    mesh = (np.array(sphere.vertices), np.array(sphere.faces))
    points = hand_cloud(np.random.default_rng(13), centre=[0, 0, 0.07])
    assert contact_labels(points, mesh, THR).any()
    mesh[0][:] += [1.0, 0.0, 0.0]
    assert not contact_labels(points, mesh, THR).any()


def test_bench_command_palm_scene(capsys):
    from omegaconf import OmegaConf

    from haco.bench.labels import bench_command

    assert bench_command(OmegaConf.create({"repeats": 1, "threshold": 0.01})) == 0
    out = capsys.readouterr().out
    assert "differing labels     0" in out
    contacts = int(out.split("contacts")[1].split("/")[0])
    assert 0.05 * N <= contacts <= 0.30 * N, out  # a realistic grasp, not a graze
