"""A `Hand` assembled from a mesh, its skinning and joints: regions, regressors at every
level, adjacency and joint axes derived once (for the procedural hand and for MANO's)."""

from __future__ import annotations

import numpy as np

from haco.hand import topology
from haco.hand.model import Hand


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
