"""The hand model: MANO's 778-vertex topology with regions, regressors and kinematics.

`load_hand()` gives the procedural right hand (no files needed); `load_hand(mano_path=...)`
reads a user's official MANO_RIGHT.pkl and returns the same `Hand`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from haco.hand import topology
from haco.hand.assemble import assemble
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
