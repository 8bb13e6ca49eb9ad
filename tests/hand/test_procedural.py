"""The procedural hand: a valid, watertight, right-handed MANO-sized mesh."""

import numpy as np
import pytest
import trimesh

from haco.hand import NUM_VERTICES, load_hand


@pytest.fixture(scope="module")
def hand():
    return load_hand()


@pytest.fixture(scope="module")
def mesh(hand):
    return trimesh.Trimesh(hand.vertices, hand.faces, process=False)


def test_has_mano_vertex_count(hand):
    assert hand.vertices.shape == (NUM_VERTICES, 3)
    assert hand.faces.shape == (2 * NUM_VERTICES - 4, 3)  # closed genus-0 surface
    assert hand.faces.min() == 0 and hand.faces.max() == NUM_VERTICES - 1


def test_is_watertight_and_outward(mesh):
    assert mesh.is_watertight
    assert mesh.is_winding_consistent
    assert mesh.volume > 0  # outward normals
    assert mesh.euler_number == 2


def test_no_degenerate_faces_or_duplicate_vertices(mesh, hand):
    assert mesh.area_faces.min() > 1e-8  # > 0.01 mm^2
    gaps = np.linalg.norm(hand.vertices[:, None] - hand.vertices[None], axis=-1)
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() > 1e-4


def test_adult_proportions(hand):
    length = np.ptp(hand.vertices[:, 1])
    width = np.ptp(hand.vertices[hand.regions["dorsum"], 0])  # the back of the hand
    assert 0.18 <= length <= 0.19
    assert 0.07 <= width <= 0.10


def test_is_a_right_hand(hand):
    joints = hand.joints
    palm_normal = np.cross(joints[1] - joints[0], joints[7] - joints[0])
    assert palm_normal[2] < 0          # palmar side faces -z
    thumb, index, pinky = hand.keypoints[[16, 17, 20], 0]
    assert thumb < index < pinky  # seen from the back, the thumb is on the left (-x)


def test_joints_lie_inside_the_mesh(hand, mesh):
    assert mesh.contains(hand.joints).all()


def test_tips_end_their_fingers(hand):
    tips = hand.vertices[hand.tip_vertices]
    for tip, distal in zip(tips, hand.joints[[15, 3, 6, 12, 9]]):
        assert 0.01 < np.linalg.norm(tip - distal) < 0.035
