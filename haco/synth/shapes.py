"""Shapes a synthetic hand touches: a mesh for labels and pictures, and a signed distance.

The mesh is the truth: contact labels are computed on it with `haco.labels`, exactly as
for real data. The signed distance (negative inside, metres) is only a fast guide for
placing things and closing fingers, so a lower bound outside the surface is good enough
where the exact distance is costly (ellipsoids, convex hulls, the other hand).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

SignedDistance = Callable[[np.ndarray], np.ndarray]  # (N, 3) points -> (N,) metres


@dataclass
class Body:
    """A non-hand entity of a scene: an object, another hand, a surface or a body part."""

    name: str                 # "mug", "left_hand", "table", "torso", ...
    kind: str                 # "object" | "hand" | "scene" | "body"
    vertices: np.ndarray      # (V, 3) metres
    faces: np.ndarray         # (F, 3)
    sdf: SignedDistance

    def moved(self, rotation: np.ndarray | None = None, shift=(0.0, 0.0, 0.0)) -> Body:
        """The body rotated about the origin by `rotation` (3x3), then shifted."""
        r = np.eye(3) if rotation is None else np.asarray(rotation, float)
        t = np.asarray(shift, float)
        inner = self.sdf
        return Body(self.name, self.kind, self.vertices @ r.T + t, self.faces,
                    lambda p: inner((p - t) @ r))


def _mesh(m: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(m.vertices, float), np.asarray(m.faces, np.int64)


def _box_sdf(p, half):
    q = np.abs(p) - half
    return np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0)


def _round_cylinder_sdf(p, radius, half_height):
    d = np.stack([np.linalg.norm(p[:, :2], axis=1) - radius, np.abs(p[:, 2]) - half_height], 1)
    return np.linalg.norm(np.maximum(d, 0), axis=1) + np.minimum(d.max(axis=1), 0)


def sphere(radius: float, name="ball", kind="object") -> Body:
    v, f = _mesh(trimesh.creation.icosphere(subdivisions=3, radius=radius))
    return Body(name, kind, v, f, lambda p: np.linalg.norm(p, axis=1) - radius)


def box(extents, name="box", kind="object") -> Body:
    half = np.asarray(extents, float) / 2
    v, f = _mesh(trimesh.creation.box(extents=2 * half))
    return Body(name, kind, v, f, lambda p: _box_sdf(p, half))


def cylinder(radius: float, height: float, name="can", kind="object") -> Body:
    v, f = _mesh(trimesh.creation.cylinder(radius=radius, height=height, sections=32))
    return Body(name, kind, v, f, lambda p: _round_cylinder_sdf(p, radius, height / 2))


def capsule(radius: float, length: float, name="capsule", kind="object") -> Body:
    """Axis along z; `length` is the straight part between the two hemispheres."""
    v, f = _mesh(trimesh.creation.capsule(height=length, radius=radius, count=[24, 24]))

    def sdf(p):
        z = np.clip(p[:, 2], -length / 2, length / 2)
        return np.linalg.norm(p - np.stack([0 * z, 0 * z, z], 1), axis=1) - radius

    return Body(name, kind, v, f, sdf)


def ellipsoid(radii, name="head", kind="body") -> Body:
    radii = np.asarray(radii, float)
    v, f = _mesh(trimesh.creation.icosphere(subdivisions=3, radius=1.0))
    # Scaled unit-sphere distance: exact on the surface, a bound off it (fine as a guide).
    return Body(name, kind, v * radii, f,
                lambda p: (np.linalg.norm(p / radii, axis=1) - 1) * radii.min())


def convex_hull(points, name="rock", kind="object") -> Body:
    hull = trimesh.convex.convex_hull(np.asarray(points, float))
    normals = np.asarray(hull.face_normals)
    offsets = np.einsum("ij,ij->i", normals, hull.triangles[:, 0])
    v, f = _mesh(hull)
    # Max over face planes: exact inside, a lower bound outside.
    return Body(name, kind, v, f, lambda p: (p @ normals.T - offsets).max(axis=1))


def union(name: str, parts: list[Body], kind="object") -> Body:
    """Several parts as one body: meshes concatenated, distance = the nearest part."""
    vertices, faces, offset = [], [], 0
    for part in parts:
        vertices.append(part.vertices)
        faces.append(part.faces + offset)
        offset += len(part.vertices)
    sdfs = [part.sdf for part in parts]
    return Body(name, kind, np.concatenate(vertices), np.concatenate(faces),
                lambda p: np.min([s(p) for s in sdfs], axis=0))


def tilt(axis, degrees) -> np.ndarray:
    return Rotation.from_rotvec(np.asarray(axis, float) * np.radians(degrees)).as_matrix()


def mug(rng) -> Body:
    r, h = rng.uniform(0.035, 0.045), rng.uniform(0.08, 0.11)
    ring = trimesh.creation.torus(major_radius=0.028, minor_radius=0.007)
    handle_v, handle_f = _mesh(ring)
    handle = Body("handle", "object", handle_v, handle_f, lambda p: (
        np.linalg.norm(np.stack([np.linalg.norm(p[:, :2], axis=1) - 0.028, p[:, 2]], 1), axis=1)
        - 0.007))
    handle = handle.moved(tilt([1, 0, 0], 90), [r + 0.018, 0, 0])
    return union("mug", [cylinder(r, h, "body"), handle])


def pen(rng) -> Body:
    return capsule(rng.uniform(0.004, 0.007), rng.uniform(0.11, 0.15), "pen")


def bottle(rng) -> Body:
    r, h = rng.uniform(0.03, 0.04), rng.uniform(0.14, 0.2)
    neck = cylinder(0.013, 0.05, "neck").moved(shift=[0, 0, h / 2 + 0.025])
    return union("bottle", [cylinder(r, h, "body"), neck])


def knife(rng) -> Body:
    blade = box([0.11, 0.022, 0.002], "blade").moved(shift=[0.075, 0, 0])
    handle = box([0.1, 0.02, 0.014], "grip").moved(shift=[-0.03, 0, 0])
    return union("knife", [blade, handle])


def random_hull(rng) -> Body:
    points = rng.normal(size=(24, 3)) * rng.uniform(0.015, 0.035, size=3)
    return convex_hull(points, "rock")


def other_hand(vertices: np.ndarray, faces: np.ndarray, name="other_hand") -> Body:
    """Another hand as a body. Its distance guide is the nearest-vertex distance minus half
    the mesh's edge length: close enough to place hands, labels use the mesh itself."""
    tree = cKDTree(vertices)
    slack = 0.5 * np.median(np.linalg.norm(vertices[faces[:, 0]] - vertices[faces[:, 1]], axis=1))
    return Body(name, "hand", vertices, faces, lambda p: tree.query(p)[0] - slack)


def mirrored(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A left hand from a right one: mirror x, flip the winding so normals stay outward."""
    return vertices * [-1.0, 1.0, 1.0], faces[:, ::-1].copy()
