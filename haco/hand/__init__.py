"""The hand model: MANO's 778-vertex topology with regions, regressors and kinematics.

`load_hand()` gives the procedural right hand (no files needed); `load_hand(mano_path=...)`
reads a user's official MANO_RIGHT.pkl and returns the same `Hand`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from haco.hand import topology
from haco.hand.model import (
    CHAINS,
    FINGER_NAMES,
    JOINT_NAMES,
    KEYPOINT_NAMES,
    NUM_VERTICES,
    PARENTS,
    Hand,
    PosedHand,
)
from haco.hand.topology import REGION_NAMES

__all__ = [
    "CHAINS", "FINGER_NAMES", "JOINT_NAMES", "KEYPOINT_NAMES", "NUM_VERTICES", "PARENTS",
    "REGION_NAMES", "Hand", "PosedHand", "assemble", "load_hand",
]


def assemble(vertices, faces, weights, joint_regressor, tip_vertices, source, **extra) -> Hand:
    """Derive everything else a `Hand` carries from its mesh, skinning and joints."""
    vertices = np.asarray(vertices, float)
    faces = np.asarray(faces, np.int64)
    joints = joint_regressor @ vertices
    tips = vertices[tip_vertices]
    distances = topology.geodesic_distances(vertices, faces)
    regressors = {n: topology.coarsening(distances, n) for n in topology.COARSE_LEVELS}
    tip_rows = np.zeros((5, len(vertices)))
    tip_rows[np.arange(5), tip_vertices] = 1.0
    regressors[21] = np.vstack([joint_regressor, tip_rows])
    flex, abd = topology.joint_axes(joints, tips)
    return Hand(
        vertices=vertices,
        faces=faces,
        weights=np.asarray(weights, float),
        joint_regressor=joint_regressor,
        tip_vertices=np.asarray(tip_vertices),
        regions=topology.hand_regions(vertices, faces, weights, joints),
        regressors=regressors,
        adjacency=topology.adjacency(faces, len(vertices)),
        flex_axes=flex,
        abduction_axes=abd,
        source=source,
        **extra,
    )


def _procedural_hand() -> Hand:
    from haco.hand import procedural

    raw = procedural.build()
    tips = []
    for name in FINGER_NAMES:
        f = list(CHAINS).index(name)
        last = CHAINS[name][2]
        ids = np.flatnonzero(raw.chain_of == f)
        bone = raw.joints[last] - raw.joints[last - 1]
        tips.append(ids[np.argmax((raw.vertices[ids] - raw.joints[last]) @ bone)])
    regressor = topology.joint_regressor(raw.vertices, raw.joints)
    return assemble(raw.vertices, raw.faces, raw.weights, regressor, np.array(tips), "procedural")


@lru_cache(maxsize=4)
def load_hand(mano_path: str | None = None) -> Hand:
    """The hand model: procedural by default, or the user's MANO_RIGHT.pkl.

    Cached per path: the returned Hand is shared, treat its arrays as read-only.
    """
    if mano_path is None:
        return _procedural_hand()
    from haco.hand.mano import load_mano

    return load_mano(mano_path)
