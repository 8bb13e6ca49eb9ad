"""Synthetic scenes: deterministic, and their labels are geometric truth."""

import numpy as np
import pytest
import trimesh

from haco.hand import load_hand
from haco.synth.scenes import SCENARIOS, make_scene

THRESHOLD = 0.01


@pytest.fixture(scope="module")
def hand():
    return load_hand()


def true_distances(scene):
    """Distance of every hand vertex to the nearest body surface, by trimesh."""
    dist = np.full(len(scene.hand_vertices), np.inf)
    for body in scene.bodies:
        mesh = trimesh.Trimesh(body.vertices, body.faces, process=False)
        dist = np.minimum(dist, trimesh.proximity.ProximityQuery(mesh).on_surface(
            scene.hand_vertices)[1])
    return dist


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_scenario_touches(hand, scenario):
    scenes = [make_scene(hand, scenario, np.random.default_rng(seed), THRESHOLD)
              for seed in range(3)]
    assert all(s.contacts.any() for s in scenes)
    assert len({int(s.contacts.sum()) for s in scenes}) > 1 or scenario == "body_poke"


@pytest.mark.parametrize("scenario", ["power", "pinch", "touch_anywhere", "leaning", "chin_touch"])
def test_labelled_contacts_really_touch(hand, scenario):
    scene = make_scene(hand, scenario, np.random.default_rng(7), THRESHOLD)
    dist = true_distances(scene)
    assert (dist[scene.contacts] < THRESHOLD).all()
    assert (dist[~scene.contacts] >= THRESHOLD).all()


@pytest.mark.parametrize("scenario", ["power", "tripod", "clasped", "palm_pressed", "hug"])
def test_near_misses_come_close_without_touching(hand, scenario):
    scene = make_scene(hand, scenario, np.random.default_rng(3), THRESHOLD, near_miss=True)
    dist = true_distances(scene)
    assert not scene.contacts.any() and scene.near_miss
    assert THRESHOLD <= dist.min() < THRESHOLD + 0.04


def test_same_seed_same_scene(hand):
    a = make_scene(hand, "tripod", np.random.default_rng(11), THRESHOLD)
    b = make_scene(hand, "tripod", np.random.default_rng(11), THRESHOLD)
    c = make_scene(hand, "tripod", np.random.default_rng(12), THRESHOLD)
    np.testing.assert_array_equal(a.hand_vertices, b.hand_vertices)
    np.testing.assert_array_equal(a.contacts, b.contacts)
    assert not np.array_equal(a.hand_vertices, c.hand_vertices)


def test_fingers_stop_at_the_surface(hand):
    scene = make_scene(hand, "power", np.random.default_rng(5), THRESHOLD, gap=(0.001, 0.001))
    body = scene.bodies[0]
    assert body.sdf(scene.hand_vertices).min() > -0.002  # no finger sinks into the object


def test_unknown_scenario_lists_known(hand):
    with pytest.raises(KeyError, match="unknown scenario 'grab'; known: power"):
        make_scene(hand, "grab", np.random.default_rng(0), THRESHOLD)
