"""The record format of `haco data import`: one directory per sample, read and validated.

Record format (the contract with the user)
------------------------------------------
`input` is a directory with one sub-directory per sample. The sub-directory's name is the
sample id; records are imported in sorted name order (hidden entries and plain files are
ignored). A record directory holds:

- `image.png` or `image.jpg` (`image.jpeg` too): the RGB image, any size (grey, palette and
  RGBA images are converted to RGB; EXIF orientation is not applied, so a crop box refers to
  the pixel grid as stored). It is taken to be a hand-centred crop, unless
- `crop.json` (optional) gives the hand's box `{"box": [x0, y0, x1, y1]}` in pixels: it is
  cropped first, clamped to the image, and must keep a positive area.
  The (cropped) image is then padded to a square by replicating its edge pixels, so the hand
  keeps its aspect ratio, and resized to `data.image_size` square.
- `hand.npz`: either `vertices` (778, 3), the hand in metres in MANO topology; or MANO
  parameters: `pose` (48 numbers: global orientation then 15 joints, axis-angle; or 45:
  joints only, no global rotation), optional `betas` (10) and `transl` (3, metres).
  Parameters need the official model, `hand.mano_path=/path/to/MANO_RIGHT.pkl`. When both
  are present, `vertices` is used.
- `mesh.obj`, `mesh.ply` or `mesh.stl`: the interacting entity's surface (object, other
  hand, scene, body) in the hand's metric frame. Labels are computed as the paper does:
  `haco.labels.contact_labels` at the dataset's threshold (MOW 3.5 cm, InterHand2.6M 0.5 cm,
  most others 1 cm; see `haco data list`). Or, instead of a mesh,
- `contacts.npy`: 778 booleans (or 0/1), the labels as provided. RICH, Decaf and Hi4D ship
  their labels (threshold "provided") and need it; a mesh cannot stand in for it there. A
  thresholded dataset given both uses the mesh (the paper's method) and ignores contacts.npy;
  the report notes it.

A record that breaks the format is a `RecordError` whose message names the file and the
problem; the importer (haco/data/importer.py) skips it and reports the reason.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from haco.data.registry import DatasetInfo
from haco.hand import load_hand
from haco.labels import NUM_HAND_VERTICES, PROVIDED, contact_labels

IMAGE_FILES = ("image.png", "image.jpg", "image.jpeg")
MESH_FILES = ("mesh.obj", "mesh.ply", "mesh.stl")
HAND_FILE = "hand.npz"
CROP_FILE = "crop.json"
CONTACTS_FILE = "contacts.npy"

# What trimesh's parsers raise on a garbled file: they index into, unpack and decode bytes.
_MESH_LOAD_ERRORS = (OSError, ValueError, KeyError, IndexError, TypeError, struct.error)
# What np.load raises on a garbled .npy/.npz (a corrupt member fails in zlib, not in zipfile).
_NPY_LOAD_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


class RecordError(ValueError):
    """A record that cannot be imported; the message is the reason written to the report."""


def list_records(input_dir: Path) -> list[Path]:
    """The record directories of `input`, sorted by name (their ids)."""
    return sorted((p for p in input_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.name)


# ---------------------------------------------------------------------------- one record


@dataclass
class Sample:
    id: str
    image: np.ndarray      # (S, S, 3) uint8
    contacts: np.ndarray   # (778,) bool
    vertices: np.ndarray   # (778, 3) float32, metres
    labels_from: str       # "mesh" or "contacts.npy"
    note: str | None       # something the user should know about this record


def read_sample(record_dir: Path, dataset: DatasetInfo, image_size: int,
                mano_path: str | None) -> Sample:
    """Read and validate one record of `dataset`, its image resized to `image_size` (hands
    given as MANO parameters are posed with the model at `mano_path`); RecordError says
    why it cannot be imported."""
    image = read_image(record_dir, image_size)
    vertices = read_hand(record_dir, mano_path)
    contacts, labels_from, note = read_labels(record_dir, vertices, dataset)
    return Sample(record_dir.name, image, contacts, vertices.astype(np.float32),
                  labels_from, note)


def _first_file(record_dir: Path, names: tuple[str, ...]) -> Path | None:
    return next((record_dir / n for n in names if (record_dir / n).is_file()), None)


# ---------------------------------------------------------------------------- image


def read_image(record_dir: Path, size: int) -> np.ndarray:
    """The record's image, cropped (crop.json), padded to a square and resized: (S, S, 3)."""
    from PIL import Image

    path = _first_file(record_dir, IMAGE_FILES)
    if path is None:
        raise RecordError(f"no image: expected one of {', '.join(IMAGE_FILES)}")
    try:
        with Image.open(path) as img:
            img.load()  # decode now: a truncated file fails here, not half-way through
            rgb = img.convert("RGB")
    except (OSError, Image.DecompressionBombError) as err:
        raise RecordError(f"{path.name} is not a readable image: {err}") from None
    box = read_crop_box(record_dir, rgb.size)
    if box is not None:
        rgb = rgb.crop(box)
    return square_resize(np.asarray(rgb), size)


def read_crop_box(record_dir: Path, image_size: tuple[int, int]) -> tuple | None:
    """crop.json's box clamped to the (width, height) image, as whole pixels; None if absent."""
    path = record_dir / CROP_FILE
    if not path.is_file():
        return None
    expected = 'expected {"box": [x0, y0, x1, y1]} in pixels'
    try:
        box = np.asarray(json.loads(path.read_text())["box"], dtype=float)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RecordError(f"{CROP_FILE} unreadable ({type(err).__name__}: {err}); "
                          f"{expected}") from None
    if box.shape != (4,) or not np.isfinite(box).all():
        raise RecordError(f"{CROP_FILE} box {box.tolist()} is not 4 finite numbers; {expected}")
    width, height = image_size
    x0, x1 = np.clip(box[[0, 2]], 0, width)
    y0, y1 = np.clip(box[[1, 3]], 0, height)
    if not (x1 > x0 and y1 > y0):
        raise RecordError(f"{CROP_FILE} box {box.tolist()} has no area inside the "
                          f"{width}x{height} image; {expected} with x0 < x1 and y0 < y1")
    # Grow to whole pixels: a partly covered pixel edge still belongs to the hand's box.
    return math.floor(x0), math.floor(y0), math.ceil(x1), math.ceil(y1)


def square_resize(pixels: np.ndarray, size: int) -> np.ndarray:
    """Pad (H, W, 3) to a square by edge replication, then resize to (size, size, 3).

    Padding instead of stretching keeps the hand's proportions; replicating the border
    instead of filling black avoids a hard edge that no real crop has.
    """
    from PIL import Image

    h, w = pixels.shape[:2]
    side = max(h, w)
    pad = [((side - n) // 2, side - n - (side - n) // 2) for n in (h, w)] + [(0, 0)]
    square = np.pad(pixels, pad, mode="edge")
    resized = Image.fromarray(square).resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8)


# ---------------------------------------------------------------------------- hand


def read_hand(record_dir: Path, mano_path: str | None) -> np.ndarray:
    """The hand's (778, 3) vertices in metres (float64), from vertices or MANO parameters."""
    fields = _read_npz(record_dir / HAND_FILE)
    if "vertices" in fields:
        vertices = fields["vertices"]
    elif "pose" in fields:
        vertices = mano_vertices(fields, mano_path)
    else:
        raise RecordError(f"{HAND_FILE} has neither `vertices` (778, 3) nor MANO `pose`; "
                          f"found keys {sorted(fields)}")
    return check_vertices(vertices)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise RecordError(f"missing {path.name} (hand `vertices`, or MANO `pose`)")
    fields = _np_load(path)
    if not isinstance(fields, dict):
        raise RecordError(f"{path.name} holds a single array; save it with "
                          "np.savez(path, vertices=...) (or pose=, betas=, transl=)")
    return fields


def _np_load(path: Path) -> np.ndarray | dict[str, np.ndarray]:
    """An .npy file's array or an .npz file's arrays (read now, the file closed)."""
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.ndarray):
            with data:
                return {key: np.asarray(data[key]) for key in data.files}
        return data
    except _NPY_LOAD_ERRORS as err:
        raise RecordError(f"{path.name} unreadable ({type(err).__name__}: {err})") from None


def check_vertices(vertices: np.ndarray) -> np.ndarray:
    expected = (NUM_HAND_VERTICES, 3)
    if vertices.shape != expected or not np.issubdtype(vertices.dtype, np.number):
        raise RecordError(f"{HAND_FILE} vertices have shape {vertices.shape} "
                          f"({vertices.dtype}), expected numbers of shape {expected} "
                          "(MANO topology, metres)")
    vertices = vertices.astype(np.float64)
    bad = ~np.isfinite(vertices).all(axis=1)
    if bad.any():
        raise RecordError(f"{HAND_FILE} vertices contain NaN or inf ({bad.sum()} of "
                          f"{NUM_HAND_VERTICES} vertices, first at index {np.argmax(bad)})")
    return vertices


def mano_vertices(fields: dict[str, np.ndarray], mano_path: str | None) -> np.ndarray:
    """Pose the official MANO hand with the record's `pose`, `betas`, `transl`."""
    if mano_path is None:
        raise RecordError(f"{HAND_FILE} has MANO parameters but hand.mano_path is not set: "
                          "pass hand.mano_path=/path/to/MANO_RIGHT.pkl (the official model), "
                          "or store the hand's `vertices` instead")
    pose = _numbers(fields, "pose", (45, 48))
    betas = _numbers(fields, "betas", (10,))
    transl = _numbers(fields, "transl", (3,))
    orient = pose[:3] if pose.size == 48 else None
    try:
        hand = load_hand(mano_path)
    except (OSError, ValueError) as err:
        raise RecordError(f"MANO model {mano_path} unusable: {err}") from None
    try:
        return hand.forward(pose[-45:].reshape(15, 3), orient, transl, betas).vertices
    except ValueError as err:  # e.g. betas for a model file without shape blend shapes
        raise RecordError(f"{HAND_FILE} MANO parameters unusable: {err}") from None


def _numbers(fields: dict[str, np.ndarray], key: str, sizes: tuple[int, ...]):
    """fields[key] flattened to float64 if present (None if not), checked for size."""
    if key not in fields:
        return None
    value = fields[key]
    if value.size not in sizes or not np.issubdtype(value.dtype, np.number):
        raise RecordError(f"{HAND_FILE} `{key}` has shape {value.shape} ({value.dtype}), "
                          f"expected {' or '.join(map(str, sizes))} numbers")
    value = value.astype(np.float64).reshape(-1)
    if not np.isfinite(value).all():
        raise RecordError(f"{HAND_FILE} `{key}` contains NaN or inf")
    return value


# ---------------------------------------------------------------------------- labels


def read_labels(record_dir: Path, vertices: np.ndarray, dataset: DatasetInfo):
    """(778,) bool labels, where they came from, and a note (or None)."""
    mesh_path = _first_file(record_dir, MESH_FILES)
    contacts_path = record_dir / CONTACTS_FILE
    has_contacts = contacts_path.is_file()
    if dataset.threshold == PROVIDED:
        if not has_contacts:
            also = f" ({mesh_path.name} cannot stand in for them)" if mesh_path else ""
            raise RecordError(f"missing {CONTACTS_FILE}: {dataset.name} ships its contact "
                              f"labels (no distance threshold){also}")
        note = f"mesh ignored: {dataset.name} labels are provided" if mesh_path else None
        return read_contacts(contacts_path), CONTACTS_FILE, note
    if mesh_path is not None:
        note = (f"{CONTACTS_FILE} ignored: labels computed from the mesh (the paper's method)"
                if has_contacts else None)
        return mesh_contacts(mesh_path, vertices, dataset.threshold), "mesh", note
    if has_contacts:
        return read_contacts(contacts_path), CONTACTS_FILE, None
    raise RecordError(f"no labels: neither a mesh ({', '.join(MESH_FILES)}) nor "
                      f"{CONTACTS_FILE}")


def mesh_contacts(path: Path, vertices: np.ndarray, threshold: float) -> np.ndarray:
    import trimesh

    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except _MESH_LOAD_ERRORS as err:
        raise RecordError(f"{path.name} unreadable ({type(err).__name__}: {err})") from None
    try:
        return contact_labels(vertices, mesh, threshold)
    except ValueError as err:  # empty, degenerate or non-finite mesh: labels says which
        raise RecordError(f"{path.name} rejected: {err}") from None


def read_contacts(path: Path) -> np.ndarray:
    labels = _np_load(path)
    if not isinstance(labels, np.ndarray):
        raise RecordError(f"{path.name} is an .npz archive; save the labels with np.save")
    flat = np.squeeze(labels)  # (778, 1) and (1, 778) are common spellings of one vector
    if flat.shape != (NUM_HAND_VERTICES,):
        raise RecordError(f"{path.name} has shape {labels.shape}, expected "
                          f"({NUM_HAND_VERTICES},): one label per MANO vertex")
    if flat.dtype == np.bool_:
        return flat.copy()
    if not np.issubdtype(flat.dtype, np.number) or not np.isin(flat, (0, 1)).all():
        odd = flat[~np.isin(flat, (0, 1))][:3] if np.issubdtype(flat.dtype, np.number) else []
        raise RecordError(f"{path.name} must hold booleans or 0/1 ({flat.dtype}"
                          f"{', found ' + str(list(odd)) if len(odd) else ''})")
    return flat.astype(bool)
