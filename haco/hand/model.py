"""The `Hand`: a MANO-topology mesh with its skeleton, regions, regressors and kinematics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.spatial.transform import Rotation

NUM_VERTICES = 778  # MANO's vertex count: labels and checkpoints are per-vertex

JOINT_NAMES = (
    "wrist",
    "index1", "index2", "index3",
    "middle1", "middle2", "middle3",
    "pinky1", "pinky2", "pinky3",
    "ring1", "ring2", "ring3",
    "thumb1", "thumb2", "thumb3",
)
PARENTS = np.array([-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14])
FINGER_NAMES = ("thumb", "index", "middle", "ring", "pinky")  # order of the 5 tip keypoints
CHAINS = {"index": (1, 2, 3), "middle": (4, 5, 6), "pinky": (7, 8, 9),
          "ring": (10, 11, 12), "thumb": (13, 14, 15)}
# MANO order: the 16 joints, then the fingertips (as manopth and smplx append them).
KEYPOINT_NAMES = JOINT_NAMES + tuple(f"{name}_tip" for name in FINGER_NAMES)

DEG = np.pi / 180
# Per-joint limits in degrees: (flexion lo, hi), (abduction lo, hi). Positive flexion curls
# towards the palm (the thumb: towards the fingers); positive abduction turns radially.
_FINGER_LIMITS = (((-20, 90), (-20, 20)), ((0, 110), (0, 0)), ((-5, 80), (0, 0)))
_THUMB_LIMITS = (((-20, 60), (-30, 45)), ((-10, 60), (-10, 10)), ((-15, 80), (0, 0)))
JOINT_LIMITS = np.array(
    [((0, 0), (0, 0))]  # the wrist moves through the global rotation instead
    + [lim for name in ("index", "middle", "pinky", "ring") for lim in _FINGER_LIMITS]
    + list(_THUMB_LIMITS),
    float,
) * DEG  # (16, 2, 2) radians


@dataclass
class PosedHand:
    vertices: np.ndarray   # (778, 3) metres
    joints: np.ndarray     # (16, 3)
    keypoints: np.ndarray  # (21, 3) MANO order: joints then tips (thumb..pinky)


@dataclass
class Hand:
    """A right hand in MANO topology. Units: metres. All arrays are numpy.

    `regressors[n]` maps per-vertex values to n coarse values (rows sum to 1); 336 and 84
    partition the mesh into patches, 21 is the joint regressor (16 joints + 5 tips).
    """

    vertices: np.ndarray                  # (778, 3) rest pose
    faces: np.ndarray                     # (F, 3) int, outward-facing
    weights: np.ndarray                   # (778, 16) linear-blend skinning weights
    joint_regressor: np.ndarray           # (16, 778); rest joints = joint_regressor @ vertices
    tip_vertices: np.ndarray              # (5,) vertex ids of the tips, thumb..pinky
    regions: dict[str, np.ndarray]        # name -> vertex ids; every vertex in exactly one
    regressors: dict[int, np.ndarray]     # {336: (336, 778), 84: (84, 778), 21: (21, 778)}
    adjacency: sp.csr_matrix              # (778, 778) symmetric, True where an edge joins
    flex_axes: np.ndarray                 # (16, 3) rest-frame flexion axis per joint
    abduction_axes: np.ndarray            # (16, 3)
    limits: np.ndarray = field(default_factory=lambda: JOINT_LIMITS.copy())  # (16, 2, 2)
    parents: np.ndarray = field(default_factory=lambda: PARENTS.copy())
    shapedirs: np.ndarray | None = None   # (778, 3, 10) MANO shape blend shapes
    posedirs: np.ndarray | None = None    # (778, 3, 135) MANO pose-corrective blend shapes
    source: str = "procedural"

    @property
    def joints(self) -> np.ndarray:
        """(16, 3) rest joint centres."""
        return self.joint_regressor @ self.vertices

    @property
    def keypoints(self) -> np.ndarray:
        """(21, 3) rest keypoints in MANO order."""
        return self.regressors[21] @ self.vertices

    def region_of(self) -> np.ndarray:
        """(778,) region name of every vertex."""
        names = np.empty(len(self.vertices), dtype=object)
        for name, ids in self.regions.items():
            names[ids] = name
        return names

    # ------------------------------------------------------------------ kinematics

    def articulate(self, flexion, abduction=None, clamp: bool = True) -> np.ndarray:
        """Per-joint flexion and abduction angles (15,) in radians -> axis-angle pose (15, 3).

        Angles outside the joint limits are clamped (`clamp=False` raises instead).
        The rotation of joint j is R_abd(j) @ R_flex(j), in its parent-aligned rest frame.
        """
        flexion = np.asarray(flexion, float).reshape(15)
        abduction = np.zeros(15) if abduction is None else np.asarray(abduction, float).reshape(15)
        lo, hi = self.limits[1:, :, 0], self.limits[1:, :, 1]
        angles = np.stack([flexion, abduction], axis=1)
        if not clamp and ((angles < lo - 1e-9) | (angles > hi + 1e-9)).any():
            bad = np.argwhere((angles < lo - 1e-9) | (angles > hi + 1e-9))[0]
            raise ValueError(
                f"joint {JOINT_NAMES[bad[0] + 1]} {('flexion', 'abduction')[bad[1]]} "
                f"{np.degrees(angles[tuple(bad)]):.1f} deg is outside its limits "
                f"[{np.degrees(lo[tuple(bad)]):.0f}, {np.degrees(hi[tuple(bad)]):.0f}]"
            )
        angles = np.clip(angles, lo, hi)
        flex = Rotation.from_rotvec(self.flex_axes[1:] * angles[:, :1])
        abd = Rotation.from_rotvec(self.abduction_axes[1:] * angles[:, 1:])
        return (abd * flex).as_rotvec()

    def forward(self, pose=None, global_orient=None, transl=None, betas=None) -> PosedHand:
        """Forward kinematics and linear blend skinning, MANO's convention.

        pose: (15, 3) axis-angle of joints 1..15 relative to their parents (None: rest);
        global_orient: (3,) axis-angle about the wrist; transl: (3,) metres;
        betas: (10,) shape coefficients (only for hands that carry `shapedirs`).
        """
        pose = np.zeros((15, 3)) if pose is None else np.asarray(pose, float).reshape(15, 3)
        root = np.zeros(3) if global_orient is None else np.asarray(global_orient, float)
        rest = self.vertices
        if betas is not None:
            if self.shapedirs is None:
                raise ValueError("this hand has no shape space (betas need a MANO model file)")
            rest = rest + self.shapedirs @ np.asarray(betas, float)
        joints = self.joint_regressor @ rest
        local = Rotation.from_rotvec(np.concatenate([root[None], pose])).as_matrix()
        if self.posedirs is not None:
            rest = rest + self.posedirs @ (local[1:] - np.eye(3)).reshape(-1)

        world = np.zeros((16, 4, 4))
        for j in range(16):
            step = np.eye(4)
            step[:3, :3] = local[j]
            parent = self.parents[j]
            step[:3, 3] = joints[j] - (joints[parent] if parent >= 0 else 0)
            world[j] = step if parent < 0 else world[parent] @ step
        # Skinning transforms act on rest-pose coordinates: undo each rest joint offset.
        skin = world.copy()
        skin[:, :3, 3] -= np.einsum("jab,jb->ja", world[:, :3, :3], joints)
        blended = np.einsum("vj,jab->vab", self.weights, skin)
        vertices = np.einsum("vab,vb->va", blended[:, :3, :3], rest) + blended[:, :3, 3]
        shift = np.zeros(3) if transl is None else np.asarray(transl, float)
        posed_joints = world[:, :3, 3] + shift
        vertices = vertices + shift
        keypoints = np.concatenate([posed_joints, vertices[self.tip_vertices]])
        return PosedHand(vertices, posed_joints, keypoints)
