"""`haco data import`: a real dataset, as local files, into the shard format.

Run: `haco data import dataset=MOW split=test input=/data/mow_records [max_failures=0.05]`

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

Output
------
- `<data root>/real/<dataset>/<split>/`: shards (see haco.data.shards) of `data.shard_size`
  samples, meta `dataset` = the plain name, `group` from the registry, ids = record names,
  and the cached label statistics.
- `<data root>/real/<dataset>/<split>.import_report.json`: counts (records, imported,
  skipped), the threshold used, every skipped record with its reason, and notes.

A bad record is skipped, with a reason naming the file and the problem. The import is kept
only when the share of skipped records is at most `max_failures` and at least one record was
imported; otherwise only the report is written and the exit code is 1. Everything is built
in the hidden sibling `.<split>.importing-<pid>` and renamed into place at the end, so the
split directory is always either the previous complete import or the new complete one.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import struct
import sys
import zipfile
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from haco.atomic import write_json
from haco.data.registry import SYNTH_PREFIX, DatasetInfo, get_dataset
from haco.data.shards import ensure_stats, write_shard
from haco.hand import load_hand
from haco.labels import NUM_HAND_VERTICES, PROVIDED, contact_labels
from haco.paths import data_root

IMAGE_FILES = ("image.png", "image.jpg", "image.jpeg")
MESH_FILES = ("mesh.obj", "mesh.ply", "mesh.stl")
HAND_FILE = "hand.npz"
CROP_FILE = "crop.json"
CONTACTS_FILE = "contacts.npy"
REPORT_SUFFIX = ".import_report.json"

SHOWN_REASONS = 5   # skipped records printed on failure; the report has all of them
SHOWN_IDS = 10      # record ids listed per note in the report

# What trimesh's parsers raise on a garbled file: they index into, unpack and decode bytes.
_MESH_LOAD_ERRORS = (OSError, ValueError, KeyError, IndexError, TypeError, struct.error)
# What np.load raises on a garbled .npy/.npz (a corrupt member fails in zlib, not in zipfile).
_NPY_LOAD_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)

_LEFTOVER_RE = re.compile(r"^\.(?P<split>.+)\.(?P<kind>importing|retired)-(?P<pid>\d+)$")


class RecordError(ValueError):
    """A record that cannot be imported; the message is the reason written to the report."""


class ImportRequestError(ValueError):
    """The command itself is wrong (dataset, split, input...); nothing was done."""


# ---------------------------------------------------------------------------- the request


@dataclass(frozen=True)
class ImportRequest:
    """A validated `haco data import` command."""

    dataset: DatasetInfo
    split: str
    input_dir: Path
    dataset_dir: Path       # <data root>/real/<dataset>
    image_size: int         # output images are image_size x image_size
    shard_size: int         # samples per shard
    max_failures: float     # largest tolerated share of skipped records, in [0, 1]
    mano_path: str | None   # official MANO_RIGHT.pkl, for records given as MANO parameters

    @property
    def split_dir(self) -> Path:
        return self.dataset_dir / self.split

    @property
    def report_path(self) -> Path:
        return self.dataset_dir / f"{self.split}{REPORT_SUFFIX}"

    @property
    def label(self) -> str:
        return f"{self.dataset.name}/{self.split}"


def make_request(cfg) -> ImportRequest:
    """Check the command's arguments before any work; ImportRequestError says what to fix."""
    for key in ("dataset", "input"):
        if OmegaConf.is_missing(cfg, key) or cfg.get(key) is None:
            raise ImportRequestError(f"{key}= is required (e.g. haco data import dataset=MOW "
                                     "split=test input=/path/to/records)")
    dataset = _dataset(str(cfg.dataset), str(cfg.split))
    input_dir = Path(str(cfg.input)).expanduser().resolve()
    if not input_dir.is_dir():
        raise ImportRequestError(f"input {input_dir} is not a directory: point input= at the "
                                 "directory holding one sub-directory per record")
    try:
        max_failures = float(cfg.max_failures)
    except (TypeError, ValueError):
        max_failures = math.nan
    if not 0.0 <= max_failures <= 1.0:
        raise ImportRequestError(f"max_failures must be a share in [0, 1], "
                                 f"got {cfg.max_failures!r}")
    mano_path = cfg.hand.mano_path
    if mano_path is not None and not Path(str(mano_path)).expanduser().is_file():
        raise ImportRequestError(f"hand.mano_path {mano_path} is not a file: download "
                                 "MANO_RIGHT.pkl from https://mano.is.tue.mpg.de or unset it")
    return ImportRequest(
        dataset=dataset, split=str(cfg.split), input_dir=input_dir,
        dataset_dir=data_root(cfg.data.root) / "real" / dataset.name,
        image_size=int(cfg.data.image_size), shard_size=int(cfg.data.shard_size),
        max_failures=max_failures,
        mano_path=None if mano_path is None else str(Path(str(mano_path)).expanduser()),
    )


def _dataset(name: str, split: str) -> DatasetInfo:
    if name.startswith(SYNTH_PREFIX):
        raise ImportRequestError(f"dataset={name}: import brings in real data; use the plain "
                                 f"name {name.removeprefix(SYNTH_PREFIX)!r}")
    try:
        dataset = get_dataset(name)
    except KeyError as err:
        raise ImportRequestError(err.args[0]) from None
    if split not in dataset.splits:
        raise ImportRequestError(f"{name} has no split {split!r}; its splits: "
                                 f"{', '.join(dataset.splits)}")
    return dataset


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


def read_sample(record_dir: Path, request: ImportRequest) -> Sample:
    """Read and validate one record; RecordError says why it cannot be imported."""
    image = read_image(record_dir, request.image_size)
    vertices = read_hand(record_dir, request.mano_path)
    contacts, labels_from, note = read_labels(record_dir, vertices, request.dataset)
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


# ---------------------------------------------------------------------------- the import


class ShardWriter:
    """Writes samples as numbered shards, one as soon as it fills: memory holds one shard."""

    def __init__(self, split_dir: Path, meta: dict, shard_size: int):
        self.split_dir, self.meta, self.shard_size = split_dir, meta, shard_size
        self.shards = 0
        self._pending: list[Sample] = []

    def add(self, sample: Sample) -> None:
        self._pending.append(sample)
        if len(self._pending) >= self.shard_size:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        write_shard(self.split_dir, self.shards,
                    images=np.stack([s.image for s in batch]),
                    contacts=np.stack([s.contacts for s in batch]),
                    vertices=np.stack([s.vertices for s in batch]),
                    meta={**self.meta, "ids": [s.id for s in batch]})
        self.shards += 1


@dataclass
class Tally:
    """What happened to the records of one import."""

    records: int = 0
    imported: int = 0
    shards: int = 0
    skipped: list[dict] = field(default_factory=list)            # {"id", "reason"}
    labels_from: Counter = field(default_factory=Counter)
    notes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # -> ids

    @property
    def failure_share(self) -> float:
        return len(self.skipped) / self.records if self.records else 1.0

    def passes(self, max_failures: float) -> bool:
        return self.imported > 0 and self.failure_share <= max_failures


def build_split(request: ImportRequest, records: list[Path], split_dir: Path) -> Tally:
    """Read every record, writing the good ones as shards into `split_dir`."""
    from tqdm import tqdm

    meta = {"dataset": request.dataset.name, "split": request.split,
            "group": request.dataset.group}
    writer, tally = ShardWriter(split_dir, meta, request.shard_size), Tally(len(records))
    # disable=None: a progress bar on a terminal only, not in logs.
    for record in tqdm(records, desc=f"import {request.label}", unit="record", disable=None):
        try:
            sample = read_sample(record, request)
        except RecordError as err:
            tally.skipped.append({"id": record.name, "reason": str(err)})
            continue
        writer.add(sample)
        tally.imported += 1
        tally.labels_from[sample.labels_from] += 1
        if sample.note:
            tally.notes[sample.note].append(sample.id)
    writer.flush()
    tally.shards = writer.shards
    return tally


def run_import(request: ImportRequest, records: list[Path]) -> tuple[Tally, dict]:
    """Import `records` into a hidden staging directory; swap it in only if it passes."""
    request.dataset_dir.mkdir(parents=True, exist_ok=True)
    clean_leftovers(request)
    staging = request.dataset_dir / f".{request.split}.importing-{os.getpid()}"
    try:
        tally = build_split(request, records, staging)
        passed = tally.passes(request.max_failures)
        if passed:
            ensure_stats(staging)  # computed before the swap: the split arrives complete
            swap_into_place(staging, request.split_dir)
        report = make_report(request, tally, passed)
        write_json(request.report_path, report)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # a failed import; gone after a swap
    return tally, report


def swap_into_place(staging: Path, split_dir: Path) -> None:
    """Rename `staging` to `split_dir`, replacing a previous import of that split.

    rename cannot replace a non-empty directory, so the old one is renamed aside first; a
    crash between the two renames leaves it there, and the next import puts it back.
    """
    if not split_dir.exists():
        os.rename(staging, split_dir)
        return
    retired = split_dir.with_name(f".{split_dir.name}.retired-{os.getpid()}")
    os.rename(split_dir, retired)
    os.rename(staging, split_dir)
    shutil.rmtree(retired)


def clean_leftovers(request: ImportRequest) -> None:
    """Tidy up after imports of this split killed mid-way (their process is gone).

    A staging directory is deleted; a retired previous import is put back if the crash
    came before the new one was renamed in, deleted otherwise.
    """
    for path in request.dataset_dir.iterdir():
        match = _LEFTOVER_RE.match(path.name)
        if not match or match["split"] != request.split or _running(int(match["pid"])):
            continue
        if match["kind"] == "retired" and not request.split_dir.exists():
            os.rename(path, request.split_dir)
        else:
            shutil.rmtree(path, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether another process with this id runs on this machine (ours is not 'another')."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


# ---------------------------------------------------------------------------- report


def make_report(request: ImportRequest, tally: Tally, passed: bool) -> dict:
    threshold = request.dataset.threshold
    return {
        "dataset": request.dataset.name,
        "split": request.split,
        "group": request.dataset.group,
        "status": "imported" if passed else "failed",
        "input": str(request.input_dir),
        "output": str(request.split_dir) if passed else None,
        "records": tally.records,
        "imported": tally.imported,
        "skipped": len(tally.skipped),
        "failure_share": round(tally.failure_share, 6),
        "max_failures": request.max_failures,
        "threshold": threshold if threshold == PROVIDED else float(threshold),  # metres
        "labels_from": dict(tally.labels_from),
        "image_size": request.image_size,
        "shards": tally.shards if passed else 0,
        "skipped_records": tally.skipped,
        "notes": _notes(tally, passed),
    }


def _notes(tally: Tally, passed: bool) -> list[str]:
    notes = []
    for message, ids in tally.notes.items():
        shown = ", ".join(ids[:SHOWN_IDS]) + (f" and {len(ids) - SHOWN_IDS} more"
                                              if len(ids) > SHOWN_IDS else "")
        notes.append(f"{message}: {len(ids)} record(s) ({shown})")
    if not passed:
        notes.append("nothing was imported: a previous import of this split, if any, is "
                     "unchanged")
    return notes


def _failure_message(request: ImportRequest, tally: Tally) -> str:
    why = (f"{len(tally.skipped)} of {tally.records} records skipped "
           f"({tally.failure_share:.1%} > max_failures {request.max_failures:.1%})"
           if tally.imported else f"none of the {tally.records} records could be imported")
    head = (f"haco data import: {request.label}: {why}; nothing imported, any previous "
            "import left as it was.")
    lines = [head]
    lines += [f"  {s['id']}: {s['reason']}" for s in tally.skipped[:SHOWN_REASONS]]
    if len(tally.skipped) > SHOWN_REASONS:
        lines.append(f"  ... and {len(tally.skipped) - SHOWN_REASONS} more")
    lines.append(f"full report: {request.report_path}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- command


def import_command(cfg) -> int:
    """`haco data import`: 0 imported, 1 too many bad records, 2 a wrong command."""
    try:
        request = make_request(cfg)
        records = list_records(request.input_dir)
        if not records:
            raise ImportRequestError(f"input {request.input_dir} has no record directories "
                                     "(one sub-directory per sample; see haco.data.importer)")
    except ImportRequestError as err:
        print(f"haco data import: {err}", file=sys.stderr)
        return 2
    tally, _ = run_import(request, records)
    if not tally.passes(request.max_failures):
        print(_failure_message(request, tally), file=sys.stderr)
        return 1
    print(f"imported {tally.imported} of {tally.records} {request.label} records "
          f"(skipped {len(tally.skipped)}) into {request.split_dir} "
          f"({tally.shards} shard(s)); report: {request.report_path}")
    return 0
