"""Forward kinematics, joint limits and linear blend skinning."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from haco.hand import JOINT_NAMES, load_hand

DEG = np.pi / 180


@pytest.fixture(scope="module")
def hand():
    return load_hand()


def flex(joint_angles: dict) -> np.ndarray:
    angles = np.zeros(15)
    for name, deg in joint_angles.items():
        angles[JOINT_NAMES.index(name) - 1] = deg * DEG
    return angles


def test_rest_pose_is_the_template(hand):
    posed = hand.forward()
    np.testing.assert_allclose(posed.vertices, hand.vertices, atol=1e-12)
    np.testing.assert_allclose(posed.keypoints, hand.keypoints, atol=1e-12)


def test_global_rotation_and_translation_are_rigid(hand):
    rot = np.array([0.3, -1.2, 0.5])
    shift = np.array([0.1, -0.2, 0.3])
    posed = hand.forward(global_orient=rot, transl=shift)
    wrist = hand.joints[0]
    expected = Rotation.from_rotvec(rot).apply(hand.vertices - wrist) + wrist + shift
    np.testing.assert_allclose(posed.vertices, expected, atol=1e-12)


def test_flexion_curls_towards_the_palm(hand):
    pose = hand.articulate(flex({"index1": 60, "index2": 60}))
    posed = hand.forward(pose)
    tip = hand.tip_vertices[1]
    assert posed.vertices[tip, 2] < hand.vertices[tip, 2] - 0.03  # towards -z, the palm
    # Bones keep their length.
    for j, child in ((1, 2), (2, 3)):
        before = np.linalg.norm(hand.joints[child] - hand.joints[j])
        after = np.linalg.norm(posed.joints[child] - posed.joints[j])
        assert after == pytest.approx(before, rel=1e-9)


def test_a_finger_moves_alone(hand):
    posed = hand.forward(hand.articulate(flex({"index1": 70})))
    moved = np.linalg.norm(posed.vertices - hand.vertices, axis=1) > 1e-6
    assert moved[hand.regions["index_tip"]].all()
    for other in ("thumb_tip", "middle_tip", "ring_tip", "pinky_tip"):
        assert not moved[hand.regions[other]].any()


def test_joint_limits_clamp(hand):
    too_far = flex({"index2": 170, "thumb3": -90, "middle1": -80})
    at_limit = flex({"index2": 110, "thumb3": -15, "middle1": -20})
    np.testing.assert_allclose(hand.articulate(too_far), hand.articulate(at_limit))
    hinge = np.zeros(15)
    hinge[JOINT_NAMES.index("index2") - 1] = 0.5  # PIP joints do not abduct
    np.testing.assert_allclose(hand.articulate(np.zeros(15), hinge), 0.0)


def test_joint_limits_can_refuse(hand):
    with pytest.raises(ValueError, match="index2 flexion 170.0 deg is outside its limits"):
        hand.articulate(flex({"index2": 170}), clamp=False)


def test_thumb_opposes_the_index(hand):
    tips = hand.tip_vertices
    before = np.linalg.norm(hand.vertices[tips[0]] - hand.vertices[tips[1]])
    # A precision pinch within the joint limits brings the two tips within a centimetre.
    pose = hand.articulate(flex({"thumb1": 30, "index1": 20, "index2": 70, "index3": 42}))
    after = hand.forward(pose).vertices
    assert before > 0.07
    assert np.linalg.norm(after[tips[0]] - after[tips[1]]) < 0.01


def test_betas_need_a_shape_space(hand):
    with pytest.raises(ValueError, match="no shape space"):
        hand.forward(betas=np.zeros(10))
