"""Synthetic interaction scenes: a posed right hand touching (or nearly touching) things.

A scenario poses the hand and places bodies in the hand's frame (wrist at the origin,
fingers along +y, palm facing -z). Fingers close until they touch (`close_fingers`) and
bodies move along a direction until a sampled gap (`approach`); both use the bodies'
signed distances as a guide. The labels are then computed on the meshes by
`haco.labels`, exactly as for real data, so what is labelled really touches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from haco.hand import CHAINS, Hand
from haco.labels import contact_labels
from haco.synth import shapes
from haco.synth.shapes import Body

DEG = np.pi / 180
FINGERS = tuple(CHAINS)  # index, middle, pinky, ring, thumb: the joint order of a pose
MAX_SINK = 0.0015  # metres a placed body may interpenetrate the hand; fingers may squeeze more


@dataclass
class Scene:
    hand_vertices: np.ndarray   # (778, 3) posed right hand, metres
    bodies: list[Body]          # what the hand interacts with
    contacts: np.ndarray        # (778,) bool, from haco.labels on the bodies' meshes
    scenario: str
    near_miss: bool             # built to come close without touching


class PlacementError(RuntimeError):
    """A sampled placement cannot be realised; the scene is drawn again."""


class Poser:
    """Poses the hand from per-finger (joint1, joint2, joint3) flexion in degrees."""

    def __init__(self, hand: Hand, scale: float = 1.0):
        self.hand, self.scale = hand, scale
        dominant = hand.weights.argmax(axis=1)
        self.finger_vertices = [np.flatnonzero(np.isin(dominant, CHAINS[f])) for f in FINGERS]
        self.palm_vertices = hand.regions["palm"]

    def vertices(self, flex: np.ndarray, abd: np.ndarray) -> np.ndarray:
        """flex, abd: (15,) degrees in pose order -> (778, 3) posed vertices."""
        pose = self.hand.articulate(np.asarray(flex) * DEG, np.asarray(abd) * DEG)
        return self.hand.forward(pose).vertices * self.scale


def pose(**fingers) -> np.ndarray:
    """A (15,) flexion vector from per-finger triples, e.g. pose(index=(40, 60, 30))."""
    flex = np.zeros(15)
    for name, angles in fingers.items():
        k = FINGERS.index(name)
        flex[3 * k: 3 * k + 3] = angles
    return flex


def close_fingers(poser: Poser, start, end, abd, bodies: list[Body], gap: float,
                  steps: int = 16) -> np.ndarray:
    """Close every finger from `start` towards `end` (flexion, degrees) and stop it where it
    first comes within `gap` of a body; fingers that never get that close end at `end`.

    The sweep marches in `steps` (a finger may pass over a thin part and clear it again,
    so the end state alone cannot tell), then bisects inside the step of first touch. All
    five fingers move at once: each evaluation is a single forward-kinematics pass.
    Returns the final (15,) flexion.
    """
    start, end = np.asarray(start, float), np.asarray(end, float)

    def flex_at(t):
        return start + (end - start) * np.repeat(t, 3)

    def reached(t):
        v = poser.vertices(flex_at(t), abd)
        d = np.min([b.sdf(v) for b in bodies], axis=0)
        return np.array([d[ids].min() for ids in poser.finger_vertices]) <= gap

    lo, hi = np.zeros(5), np.ones(5)
    touched = reached(lo)  # already touching at the start: stay there
    hi[touched] = 0.0
    for t in np.linspace(0, 1, steps + 1)[1:]:
        first = ~touched & reached(np.where(touched, hi, t))
        hi[first], lo[first] = t, t - 1 / steps
        lo[~touched & ~first] = t
        touched |= first
    for _ in range(8):
        mid = np.where(touched, (lo + hi) / 2, 1.0)
        now = reached(mid) & touched
        hi, lo = np.where(now, mid, hi), np.where(touched & ~now, mid, lo)
    return flex_at(np.where(touched, hi, 1.0))


def approach(body: Body, points: np.ndarray, direction, gap: float, max_steps=200) -> Body:
    """Move `body` along `direction` until its nearest point among `points` is `gap` away.

    Sphere tracing: each step travels the current clearance, which the signed distance
    guarantees is free, so the body can never tunnel through the hand (a bisection would,
    since clearance grows again once a body has passed through). A body that starts too
    close first backs off.
    """
    direction = np.asarray(direction, float) / np.linalg.norm(direction)
    gap = max(gap, -MAX_SINK)  # a thin body cannot be sunk into deeper than it is thick

    def clearance(s):
        return body.sdf(points - s * direction).min() - gap

    s = 0.0
    while clearance(s) < 0.02:  # start clear: back off along the direction
        s -= 0.05
        if s < -1.0:
            raise PlacementError(f"{body.name} cannot be backed off the hand")
    for _ in range(max_steps):
        step = clearance(s)
        if step < 1e-5:
            return body.moved(shift=s * direction)
        if step > 1.0:  # a metre clear: this direction leads away from the hand
            raise PlacementError(f"{body.name} moves away from the hand along {direction}")
        s += step
    raise PlacementError(f"{body.name} did not reach the hand in {max_steps} steps")


def _unit(v):
    return np.asarray(v, float) / np.linalg.norm(v)


def _rotation_to(src, dst) -> np.ndarray:
    """Smallest rotation taking direction src to dst."""
    from scipy.spatial.transform import Rotation

    src, dst = _unit(src), _unit(dst)
    axis = np.cross(src, dst)
    angle = np.arctan2(np.linalg.norm(axis), src @ dst)
    if np.linalg.norm(axis) < 1e-9:
        axis = np.cross(src, [1, 0, 0] if abs(src[0]) < 0.9 else [0, 1, 0])
    return Rotation.from_rotvec(_unit(axis) * angle).as_matrix()


def _jitter(rng, flex, spread=8.0):
    return np.asarray(flex, float) + rng.uniform(-spread, spread, size=15)


# --------------------------------------------------------------------------- HO


def _random_turn(rng, degrees=180.0):
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(rng.normal(size=3) * np.radians(degrees) / 2).as_matrix()


def power_grasp(poser: Poser, rng, gap: float) -> tuple[np.ndarray, np.ndarray, list[Body]]:
    """Palm on the object, every finger wrapped around it (ObMan, MOW, DexYCB)."""
    radius = rng.uniform(0.018, 0.042)
    kind = rng.choice(["can", "capsule", "bottle", "ball", "mug", "knife", "rock"])
    body = {"can": lambda: shapes.cylinder(radius, rng.uniform(0.1, 0.18)),
            "capsule": lambda: shapes.capsule(radius, rng.uniform(0.08, 0.14)),
            "bottle": lambda: shapes.bottle(rng),
            "ball": lambda: shapes.sphere(radius + 0.01),
            "mug": lambda: shapes.mug(rng),  # held round its body, handle sticking out
            "knife": lambda: shapes.knife(rng).moved(shapes.tilt([0, 1, 0], 90)),  # by the grip
            "rock": lambda: shapes.convex_hull(rng.normal(size=(24, 3)) * 0.03, "rock"),
            }[kind]()
    # Across the palm, often diagonally from the index base down to the hypothenar, as
    # power grasps hold handles.
    across = shapes.tilt([0, 1, 0], 90) @ shapes.tilt([0, 0, 1], rng.uniform(-10, 40))
    abd = np.zeros(15)
    abd[12] = rng.uniform(20, 40)
    # Open hand, thumb lifted out of the way, so the object meets the palm first.
    start = _jitter(rng, pose(thumb=(-15, -5, -10)), 4)
    open_hand = poser.vertices(start, abd)
    toward_hypothenar = [rng.uniform(0.0, 0.015), rng.uniform(-0.025, 0.01), 0]
    palm_centre = open_hand[poser.palm_vertices].mean(axis=0) + toward_hypothenar
    body = body.moved(across, palm_centre + [0, 0, -0.12])
    body = approach(body, open_hand, [0, 0, 1], gap)
    end = pose(index=(90, 110, 80), middle=(90, 110, 80), ring=(90, 110, 80),
               pinky=(90, 110, 80), thumb=(60, 60, 80))
    flex = close_fingers(poser, start, end, abd, [body], gap)
    return flex, abd, [body]


def _small_object(rng) -> Body:
    maker = rng.choice(["ball", "box", "pen", "hull", "capsule"])
    if maker == "ball":
        return shapes.sphere(rng.uniform(0.01, 0.02))
    if maker == "box":
        return shapes.box(rng.uniform([0.015, 0.015, 0.015], [0.035, 0.03, 0.03]))
    if maker == "pen":
        return shapes.pen(rng).moved(shapes.tilt([0, 1, 0], 90))
    if maker == "capsule":
        return shapes.capsule(rng.uniform(0.008, 0.015), rng.uniform(0.01, 0.04))
    return shapes.convex_hull(rng.normal(size=(16, 3)) * 0.012, "pebble")


def precision_grasp(poser, rng, gap, fingers=("index",)):
    """Thumb against one or two fingertips around a small object (pinch, tripod)."""
    body = _small_object(rng).moved(_random_turn(rng))
    others = [f for f in ("index", "middle", "ring", "pinky") if f not in fingers]
    curled = {f: tuple(rng.uniform([50, 70, 30], [85, 100, 60])) for f in others}
    target = pose(thumb=(15, 20, 30), **{f: (40, 70, 42) for f in fingers}, **curled)
    abd = np.zeros(15)
    v = poser.vertices(target, abd)
    tips = poser.hand.tip_vertices
    centre = np.mean([v[tips[0]]] + [v[tips[1 + ("index", "middle").index(f)]] for f in fingers],
                     axis=0)
    body = body.moved(shift=centre + rng.normal(scale=0.002, size=3))
    start = pose(thumb=(-10, 0, 0), **{f: (10, 15, 10) for f in fingers}, **curled)
    end = pose(thumb=(40, 50, 70), **{f: (70, 100, 70) for f in fingers}, **curled)
    flex = close_fingers(poser, start, end, abd, [body], gap)
    return flex, abd, [body]


def lateral_grasp(poser, rng, gap):
    """Key grip: a flat object between the thumb pad and the side of the index."""
    flex_fingers = {f: tuple(rng.uniform([50, 70, 30], [80, 95, 55]))
                    for f in ("index", "middle", "ring", "pinky")}
    abd = np.zeros(15)
    v = poser.vertices(pose(**flex_fingers), abd)
    index_side = v[poser.finger_vertices[0]]
    target = index_side[index_side[:, 0].argmin()]  # the radial side of the index
    card = shapes.box([0.05, 0.005, 0.03], "card").moved(shapes.tilt([0, 0, 1], 90))
    card = card.moved(shift=target + [-0.06, 0, 0])
    card = approach(card, index_side, [1, 0, 0], gap)
    start = pose(thumb=(-20, 0, 0), **flex_fingers)
    end = pose(thumb=(60, 60, 80), **flex_fingers)
    return close_fingers(poser, start, end, abd, [card], gap), abd, [card]


def poke(poser, rng, gap, body: Body | None = None, fingers=("index",)):
    """Extended finger(s), the rest curled; a surface meets the fingertip head-on."""
    flex = pose(**{f: tuple(rng.uniform([50, 70, 30], [85, 100, 60]))
                   for f in ("index", "middle", "ring", "pinky") if f not in fingers},
                thumb=tuple(rng.uniform([20, 20, 20], [50, 50, 50])))
    for f in fingers:
        flex[3 * FINGERS.index(f): 3 * FINGERS.index(f) + 3] = rng.uniform(0, 25, size=3)
    abd = np.zeros(15)
    v = poser.vertices(flex, abd)
    tip = v[poser.hand.tip_vertices[1]]
    pointing = _unit(tip - v[poser.finger_vertices[0]].mean(axis=0))
    if body is None:
        body = [lambda: shapes.box(rng.uniform([0.08, 0.08, 0.03], [0.2, 0.2, 0.08])),
                lambda: shapes.sphere(rng.uniform(0.04, 0.1)),
                lambda: shapes.random_hull(rng)][rng.integers(3)]()
    body = body.moved(_random_turn(rng, 40), tip + pointing * 0.3)
    return flex, abd, [approach(body, v, -pointing, gap)]


def flat_press(poser, rng, gap, body: Body | None = None, tilt_deg=2.0):
    """Open hand pressed on a flat surface: palm and finger pads. The fingers are straight
    or slightly bent back, as a pressing hand is (bent fingers would touch first)."""
    flex = pose(**{f: (rng.uniform(-12, 2), rng.uniform(0, 6), rng.uniform(0, 6))
                   for f in ("index", "middle", "ring", "pinky")},
                thumb=tuple(rng.uniform([-20, -10, -15], [-5, 5, 5])))  # lifted to the palm plane
    abd = np.zeros(15)
    v = poser.vertices(flex, abd)
    if body is None:
        body = shapes.box(rng.uniform([0.15, 0.2, 0.03], [0.3, 0.35, 0.08]), "lid")
    turn = shapes.tilt([1, 0, 0], rng.uniform(-tilt_deg, tilt_deg)) @ shapes.tilt(
        [0, 1, 0], rng.uniform(-tilt_deg, tilt_deg))
    centre = v.mean(axis=0) + [0, 0, -0.3]
    return flex, abd, [approach(body.moved(turn, centre), v, [0, 0, 1], gap)]


# --------------------------------------------------------------------------- HH


def _other_hand(poser: Poser, rng, flex=None) -> tuple[np.ndarray, np.ndarray]:
    """A posed left hand (mirrored), in its own rest frame."""
    if flex is None:
        flex = _jitter(rng, pose(), 15).clip(0, None)
    v = poser.vertices(flex, np.zeros(15))
    return shapes.mirrored(v, poser.hand.faces)


def touch_target(poser, rng, gap, regions: dict[str, float], flex=None):
    """Another hand's index fingertip touches a sampled spot on this hand."""
    flex = _jitter(rng, pose(), 20).clip(-10, None) if flex is None else flex
    abd = np.zeros(15)
    v = poser.vertices(flex, abd)
    names = list(regions)
    region = names[rng.choice(len(names), p=np.array(list(regions.values())) / sum(regions.values()))]
    target = rng.choice(poser.hand.regions[region])
    normal = _vertex_normal(v, poser.hand.faces, target)
    pointing = pose(index=(0, 5, 5), middle=(80, 95, 60), ring=(80, 95, 60), pinky=(80, 95, 60),
                    thumb=(40, 40, 40))
    ov, of = _other_hand(poser, rng, pointing)
    tip = ov[poser.hand.tip_vertices[1]]
    direction = _unit(tip - ov[poser.finger_vertices[0]].mean(axis=0))  # along its index
    turn = _rotation_to(direction, -normal) @ shapes.tilt(direction, rng.uniform(0, 360))
    other = shapes.other_hand((ov - tip) @ turn.T, of).moved(shift=v[target] + normal * 0.05)
    return flex, abd, [approach(other, v, -normal, gap)]


def _vertex_normal(v, faces, vertex):
    from haco.hand.topology import vertex_normals

    return vertex_normals(v, faces)[vertex]


def palms_together(poser, rng, gap, offset_x=0.0):
    """Clasped (or, offset by half a finger, interlaced) hands: palm to palm, fingers wrap."""
    abd = np.zeros(15)
    flex = _jitter(rng, pose(), 6)
    v = poser.vertices(flex, abd)
    ov, of = _other_hand(poser, rng, _jitter(rng, pose(), 6))
    turned = ov @ shapes.tilt([0, 1, 0], 180).T + [offset_x, rng.uniform(-0.02, 0.02), -0.12]
    other = approach(shapes.other_hand(turned, of), v, [0, 0, 1], gap)
    end = pose(index=(60, 80, 50), middle=(60, 80, 50), ring=(60, 80, 50), pinky=(60, 80, 50),
               thumb=(40, 40, 40))
    return close_fingers(poser, flex, end, abd, [other], gap), abd, [other]


# --------------------------------------------------------------------------- HS and HB


def _scene_plane(name):
    """A ground, wall or table top: large enough to fill any view behind the hand."""
    return _as("scene", name, shapes.box([1.2, 1.2, 0.05], name))


def fingertips_resting(poser, rng, gap, body: Body):
    flex = pose(**{f: tuple(rng.uniform([20, 30, 10], [50, 60, 35]))
                   for f in ("index", "middle", "ring", "pinky")},
                thumb=tuple(rng.uniform([10, 10, 10], [40, 40, 40])))
    abd = np.zeros(15)
    v = poser.vertices(flex, abd)
    turn = shapes.tilt([1, 0, 0], rng.uniform(-45, -20))  # the surface faces the fingertips
    return flex, abd, [approach(body.moved(turn, v.mean(axis=0) + [0, 0.2, -0.3]), v,
                                [0, -0.5, 1], gap)]


def wrap(poser, rng, gap, body: Body):
    """Hug / hold a large rounded body part (an arm, a shoulder) with palm and fingers."""
    abd = np.zeros(15)
    abd[12] = rng.uniform(10, 30)
    rest = poser.vertices(np.zeros(15), abd)
    across = shapes.tilt([0, 1, 0], 90) @ shapes.tilt([0, 0, 1], rng.uniform(-30, 30))
    body = body.moved(across, rest[poser.palm_vertices].mean(axis=0) + [0, 0, -0.3])
    body = approach(body, rest[poser.palm_vertices], [0, 0, 1], gap)
    end = pose(index=(80, 100, 70), middle=(80, 100, 70), ring=(80, 100, 70),
               pinky=(80, 100, 70), thumb=(50, 50, 60))
    return close_fingers(poser, _jitter(rng, pose(), 5), end, abd, [body], gap), abd, [body]


def arm(rng):
    c = shapes.capsule(rng.uniform(0.035, 0.05), 0.25)
    return Body("arm", "body", c.vertices, c.faces, c.sdf)


def face(rng):
    return shapes.ellipsoid(rng.uniform([0.07, 0.09, 0.1], [0.08, 0.1, 0.12]), "face", "body")


def _as(kind: str, name: str, body: Body) -> Body:
    return Body(name, kind, body.vertices, body.faces, body.sdf)


# --------------------------------------------------------------------------- registry

Scenario = Callable[[Poser, np.random.Generator, float], tuple]

SCENARIOS: dict[str, Scenario] = {
    # HO
    "power": power_grasp,
    "pinch": lambda p, r, g: precision_grasp(p, r, g, ("index",)),
    "tripod": lambda p, r, g: precision_grasp(p, r, g, ("index", "middle")),
    "lateral": lateral_grasp,
    "poke": poke,
    "flat_press": flat_press,
    # HH
    "touch_anywhere": lambda p, r, g: touch_target(p, r, g, {
        "finger_pads": 3, "palm": 3, "finger_backs": 2, "sides": 2, "dorsum": 1,
        "index_tip": 1, "middle_tip": 1, "ring_tip": 1, "pinky_tip": 1, "thumb_tip": 1}),
    "touch_tips": lambda p, r, g: touch_target(p, r, g, {
        "index_tip": 2, "middle_tip": 2, "thumb_tip": 2, "ring_tip": 1, "pinky_tip": 1,
        "sides": 1}),
    "clasped": palms_together,
    "interlaced": lambda p, r, g: palms_together(p, r, g, offset_x=0.011),
    # HS
    "palm_pressed": lambda p, r, g: flat_press(p, r, g, _scene_plane("ground")),
    "leaning": lambda p, r, g: flat_press(p, r, g, _scene_plane("wall"), 20),
    "fingertips_resting": lambda p, r, g: fingertips_resting(
        p, r, g, _scene_plane("table")),
    # HB
    "pat": lambda p, r, g: flat_press(p, r, g, _as("body", "back", shapes.capsule(
        r.uniform(0.18, 0.3), 0.4).moved(shapes.tilt([0, 1, 0], 90))), 5),
    "hug": lambda p, r, g: wrap(p, r, g, arm(r)),
    "chin_touch": lambda p, r, g: touch_body_with_fingers(p, r, g, face(r)),
    "body_poke": lambda p, r, g: poke(p, r, g, face(r) if r.random() < 0.5 else _as(
        "body", "torso", shapes.capsule(0.14, 0.4))),
}


def touch_body_with_fingers(poser, rng, gap, body: Body):
    """Fingertips or finger pads rest on a face (chin on fingers, a touch on the cheek)."""
    flex = _jitter(rng, pose(thumb=(20, 20, 20), pinky=(40, 50, 30), ring=(30, 40, 25)), 10)
    abd = np.zeros(15)
    v = poser.vertices(flex, abd)
    finger = rng.choice([0, 1])  # index or middle leads
    ids = poser.finger_vertices[finger]
    lead = ids[v[ids, 2].argmin()] if rng.random() < 0.5 else poser.hand.tip_vertices[1 + finger]
    direction = _unit([rng.uniform(-0.3, 0.3), rng.uniform(-0.2, 0.5), 1])
    body = body.moved(_random_turn(rng, 60), v[lead] - direction * 0.3)
    return flex, abd, [approach(body, v, direction, gap)]


def make_scene(hand: Hand, scenario: str, rng: np.random.Generator, threshold: float,
               near_miss: bool = False, gap=(-0.002, 0.002), scale=(0.92, 1.08)) -> Scene:
    """Build one scene. A near miss moves the bodies away until nothing is within
    `threshold`, checked on the meshes, so it is a guaranteed fully non-contact sample."""
    if scenario not in SCENARIOS:
        raise KeyError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    for attempt in range(8):  # redraws continue the same random stream: deterministic
        poser = Poser(hand, rng.uniform(*scale))
        try:
            flex, abd, bodies = SCENARIOS[scenario](poser, rng, rng.uniform(*gap))
            break
        except PlacementError:
            if attempt == 7:
                raise
    v = poser.vertices(flex, abd)
    if near_miss:
        bodies = [_move_clear(b, v, threshold, rng) for b in bodies]
    contacts = np.zeros(len(v), bool)
    for b in bodies:
        contacts |= contact_labels(v, (b.vertices, b.faces), threshold)
    if near_miss and contacts.any():
        raise RuntimeError(f"near miss of {scenario} still touches: {contacts.sum()} vertices")
    return Scene(v, bodies, contacts, scenario, near_miss)


def _move_clear(body: Body, v: np.ndarray, threshold: float, rng) -> Body:
    """Shift a body straight away from the hand to a gap just beyond the threshold."""
    away = _unit(body.vertices.mean(axis=0) - v.mean(axis=0))
    margin = threshold + rng.uniform(0.002, 0.015)
    for _ in range(6):
        moved = approach(body, v, -away, margin)
        if not contact_labels(v, (moved.vertices, moved.faces), threshold).any():
            return moved
        margin += threshold  # the guide distance undershot (ellipsoid, other hand): go on
    return moved
