"""Shapes: the signed-distance guide agrees with the mesh it travels with."""

import numpy as np
import pytest

from haco.synth import shapes

RNG = np.random.default_rng(0)
BODIES = {
    "sphere": shapes.sphere(0.03), "box": shapes.box([0.05, 0.03, 0.02]),
    "cylinder": shapes.cylinder(0.03, 0.1), "capsule": shapes.capsule(0.02, 0.08),
    "ellipsoid": shapes.ellipsoid([0.07, 0.09, 0.11]), "hull": shapes.random_hull(RNG),
    "pen": shapes.pen(RNG), "bottle": shapes.bottle(RNG), "knife": shapes.knife(RNG),
    "mug": shapes.mug(RNG),
}


@pytest.mark.parametrize("name", BODIES)
def test_surface_is_the_zero_level(name):
    body = BODIES[name]
    d = body.sdf(body.vertices)
    # On the surface; compound bodies have vertices buried inside another part.
    assert (d <= 1e-9).all() and np.median(np.abs(d)) < 1e-9
    assert body.sdf(body.vertices.mean(axis=0, keepdims=True))[0] < 0 or name == "mug"


@pytest.mark.parametrize("name", ["sphere", "box", "cylinder", "capsule"])
def test_exact_distances_match_the_mesh(name):
    import trimesh

    body = BODIES[name]
    points = RNG.normal(scale=0.06, size=(200, 3))
    mesh = trimesh.Trimesh(body.vertices, body.faces, process=False)
    outside = ~mesh.contains(points)
    exact = trimesh.proximity.ProximityQuery(mesh).on_surface(points[outside])[1]
    # Tessellated curved surfaces sit slightly inside the analytic ones.
    np.testing.assert_allclose(body.sdf(points[outside]), exact, atol=2e-3)


def test_moved_bodies_carry_their_distance():
    body = shapes.box([0.02, 0.04, 0.06]).moved(shapes.tilt([1, 2, 3], 40), [0.1, -0.2, 0.3])
    assert np.abs(body.sdf(body.vertices)).max() < 1e-12
    assert body.sdf(np.array([[0.1, -0.2, 0.3]]))[0] == pytest.approx(-0.01)


def test_mirrored_hand_stays_outward():
    import trimesh

    from haco.hand import load_hand

    hand = load_hand()
    v, f = shapes.mirrored(hand.vertices, hand.faces)
    mesh = trimesh.Trimesh(v, f, process=False)
    assert mesh.volume > 0 and mesh.is_winding_consistent
    assert v[hand.tip_vertices[0], 0] > 0  # a left hand's thumb is on the +x side
