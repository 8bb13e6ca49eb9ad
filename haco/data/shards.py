"""The shard format: how samples sit on disk between scene generation and the loader.

One directory per dataset split (the caller picks the path) holds numbered shards:

    <split_dir>/shard-00000/images.npy    (n, H, W, 3) uint8
                           contacts.npy  (n, 98) uint8, np.packbits of 778 bools (bit order "big")
                           vertices.npy  (n, 778, 3) float32, metres
                           meta.json     format_version, count, image_size, dataset, split,
                                         group, ids, non_contact, digests (of the arrays)
    <split_dir>/stats.npz  cached label statistics, recomputed when the shards change
    <split_dir>/manifest.json  the complete split's shards (haco/data/integrity.py checks
                           it and the digests on open)

A shard is written into a hidden sibling `.shard-00000.partial-<pid>` and renamed into place,
so a directory named `shard-NNNNN` is complete by construction: a killed writer leaves only a
`.partial` entry, which readers ignore and writers remove. Concurrent writers must write
distinct shard indices (a generator hands out indices; resume skips `completed_shards`).

Readers memory-map every array: many trials on one node share one copy in the page cache.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from haco.atomic import replace_dir
from haco.data import integrity
from haco.data.integrity import CorruptShardError
from haco.data.registry import GROUPS
from haco.labels import NUM_HAND_VERTICES

# Bump when the layout changes; readers refuse other versions instead of misreading them.
FORMAT_VERSION = 1

# Bytes per sample of packed contacts: 778 bits rounded up to whole bytes.
PACKED_CONTACT_BYTES = (NUM_HAND_VERTICES + 7) // 8

STATS_FILE = "stats.npz"

_SHARD_RE = re.compile(r"^shard-(\d{5,})$")
_PARTIAL_RE = re.compile(r"^\..+\.partial-")
_META_KEYS = {"dataset", "split", "group", "ids", "non_contact"}


class ShardVersionError(ValueError):
    """A shard written by another haco version (another FORMAT_VERSION)."""


# ---------------------------------------------------------------------------- contacts


def pack_contacts(contacts: np.ndarray) -> np.ndarray:
    """(n, 778) bool -> (n, 98) uint8; 8x smaller on disk and in the page cache."""
    contacts = np.asarray(contacts)
    _check_array("contacts", contacts, (None, NUM_HAND_VERTICES), np.bool_)
    return np.packbits(contacts, axis=-1)


def unpack_contacts(packed: np.ndarray) -> np.ndarray:
    """(n, 98) uint8 -> (n, 778) bool; also accepts a single (98,) row."""
    packed = np.asarray(packed)
    if packed.dtype != np.uint8 or packed.shape[-1:] != (PACKED_CONTACT_BYTES,):
        raise ValueError(f"packed contacts must be uint8 (..., {PACKED_CONTACT_BYTES}), "
                         f"got {packed.dtype} {packed.shape}")
    # count= drops the 6 padding bits of the last byte.
    return np.unpackbits(packed, axis=-1, count=NUM_HAND_VERTICES).view(bool)


# ---------------------------------------------------------------------------- writing


def shard_name(index: int) -> str:
    return f"shard-{index:05d}"


def write_shard(split_dir, index: int, images, contacts, vertices, meta: dict,
                overwrite: bool = False) -> Path:
    """Write shard `index` of a split atomically and return its directory.

    images (n, H, W, 3) uint8, contacts (n, 778) bool, vertices (n, 778, 3) float32;
    meta: dataset, split, group (HO|HH|HS|HB), ids (n strings), optionally non_contact
    (n bools; derived from contacts when absent, and checked against them when given).
    """
    split_dir = Path(split_dir)
    meta_json = _shard_meta(images, contacts, vertices, meta)
    final = split_dir / shard_name(index)
    if final.exists() and not overwrite:
        raise FileExistsError(f"{final} already exists; pass overwrite=True to replace it "
                              "(or skip it: completed_shards() lists the finished ones)")
    _remove_partials(split_dir, prefix=f".{final.name}.partial-")  # a killed writer's leftovers
    partial = split_dir / f".{final.name}.partial-{os.getpid()}"
    partial.mkdir(parents=True)
    try:
        np.save(partial / "images.npy", images)
        np.save(partial / "contacts.npy", pack_contacts(contacts))
        np.save(partial / "vertices.npy", vertices)
        meta_json["digests"] = integrity.digests(partial)
        (partial / "meta.json").write_text(json.dumps(meta_json))
        _move_into_place(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def _move_into_place(partial: Path, final: Path) -> None:
    """Rename `partial` to `final`; replacing a shard drops the stats that describe it."""
    if final.exists():
        (final.parent / STATS_FILE).unlink(missing_ok=True)
    # The retired shard keeps a `.partial` name: readers skip it, clean_partials removes it.
    replace_dir(partial, final, retired=partial.with_name(partial.name + ".old"))


def _shard_meta(images, contacts, vertices, meta: dict) -> dict:
    """Validate one shard's arrays and meta; return the meta.json content."""
    n = _check_array("images", images, (None, None, None, 3), np.uint8)[0]
    if n == 0:
        raise ValueError("a shard needs at least one sample (images has 0 rows)")
    _check_array("contacts", contacts, (n, NUM_HAND_VERTICES), np.bool_)
    _check_array("vertices", vertices, (n, NUM_HAND_VERTICES, 3), np.float32)
    non_contact = ~np.asarray(contacts).any(axis=1)
    _check_meta(meta, n, non_contact)
    return {
        "format_version": FORMAT_VERSION,
        "count": int(n),
        "image_size": [int(images.shape[1]), int(images.shape[2])],
        "dataset": meta["dataset"],
        "split": meta["split"],
        "group": meta["group"],
        "ids": [str(i) for i in meta["ids"]],
        "non_contact": non_contact.tolist(),
    }


def _check_array(field: str, array, shape: tuple, dtype) -> tuple:
    """Raise a ValueError naming the field and the expected shape/dtype; return its shape."""
    expected = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{field} must be a numpy array {expected} {np.dtype(dtype)}, "
                         f"got {type(array).__name__}")
    if array.ndim != len(shape) or any(s is not None and s != a
                                       for s, a in zip(shape, array.shape)):
        raise ValueError(f"{field} must have shape {expected}, got {array.shape}")
    if array.dtype != dtype:
        raise ValueError(f"{field} must be {np.dtype(dtype)} {expected}, got {array.dtype} "
                         f"(convert with .astype(np.{np.dtype(dtype).name}))")
    return array.shape


def _check_meta(meta: dict, n: int, non_contact: np.ndarray) -> None:
    missing = {"dataset", "split", "group", "ids"} - set(meta)
    unknown = set(meta) - _META_KEYS
    if missing or unknown:
        raise ValueError(f"shard meta: missing {sorted(missing)}, unknown {sorted(unknown)}; "
                         f"expected keys {sorted(_META_KEYS)} (non_contact optional)")
    if meta["group"] not in GROUPS:
        raise ValueError(f"shard meta: group must be one of {list(GROUPS)}, got {meta['group']!r}")
    if len(meta["ids"]) != n:
        raise ValueError(f"shard meta: ids must have n={n} entries, got {len(meta['ids'])}")
    given = meta.get("non_contact")
    if given is not None and not np.array_equal(np.asarray(given, dtype=bool), non_contact):
        raise ValueError("shard meta: non_contact disagrees with contacts (it must be True "
                         "exactly where a sample has no contact vertex); omit it to derive it")


# ---------------------------------------------------------------------------- listing


def completed_shards(split_dir) -> list[int]:
    """Indices of the complete shards of a split, ascending (empty if the dir is missing)."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        return []
    found = (_SHARD_RE.match(p.name) for p in split_dir.iterdir() if p.is_dir())
    return sorted(int(m.group(1)) for m in found if m)


def clean_partials(split_dir) -> list[Path]:
    """Remove what killed writers left behind (`.partial` shards and stats); return them."""
    return _remove_partials(Path(split_dir), prefix=".")


def _remove_partials(split_dir: Path, prefix: str) -> list[Path]:
    if not split_dir.is_dir():
        return []
    removed = [p for p in split_dir.iterdir()
               if p.name.startswith(prefix) and _PARTIAL_RE.match(p.name)]
    for path in removed:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return removed


def _read_meta(shard_dir: Path) -> dict:
    meta = json.loads((shard_dir / "meta.json").read_text())
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ShardVersionError(
            f"{shard_dir} has shard format version {version}, this haco reads version "
            f"{FORMAT_VERSION}: it was written by another haco version; "
            f"{integrity.rebuild_advice(shard_dir.parent)}")
    return meta


def _listing(split_dir: Path) -> list[tuple[str, int]]:
    """(name, count) of every complete shard: what the cached stats must have been built on."""
    names = [shard_name(i) for i in completed_shards(split_dir)]
    return [(name, int(_read_meta(split_dir / name)["count"])) for name in names]


# ---------------------------------------------------------------------------- reading


@dataclass
class Shard:
    """One complete shard, its arrays memory-mapped (np.memmap, read-only)."""

    name: str
    images: np.ndarray      # (n, H, W, 3) uint8
    contacts: np.ndarray    # (n, 98) uint8, packed
    vertices: np.ndarray    # (n, 778, 3) float32
    meta: dict              # meta.json as written

    @property
    def count(self) -> int:
        return int(self.meta["count"])


def open_shard(shard_dir) -> Shard:
    """Memory-map one shard, checking its version, digests and shapes against its meta."""
    shard_dir = Path(shard_dir)
    integrity.check_shard(shard_dir)
    meta = _read_meta(shard_dir)
    arrays = integrity.map_arrays(shard_dir)
    n, (h, w) = meta["count"], meta["image_size"]
    expected = {"images": (n, h, w, 3), "contacts": (n, PACKED_CONTACT_BYTES),
                "vertices": (n, NUM_HAND_VERTICES, 3)}
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise CorruptShardError(shard_dir, f"{key}.npy has shape {arrays[key].shape}, its "
                                    f"meta.json implies {shape}")
    return Shard(shard_dir.name, meta=meta, **arrays)


class SplitReader:
    """All complete shards of one split, read as one indexable sequence of samples."""

    def __init__(self, split_dir):
        self.split_dir = Path(split_dir).resolve()
        indices = completed_shards(self.split_dir)
        if not indices:
            state = "has no complete shard" if self.split_dir.is_dir() else "does not exist"
            raise FileNotFoundError(f"split {self.split_dir} {state}: generate it with "
                                    "`haco data synth` or import it with `haco data import`")
        integrity.check_split(self.split_dir, [shard_name(i) for i in indices])
        self.shards = [open_shard(self.split_dir / shard_name(i)) for i in indices]
        self._check_agreement()
        first = self.shards[0].meta
        self.image_size = tuple(first["image_size"])
        self.dataset, self.group, self.split = first["dataset"], first["group"], first["split"]
        # offsets[k] is the global index of shard k's first sample; offsets[-1] == len(self)
        self._offsets = np.cumsum([0] + [s.count for s in self.shards])
        self.non_contact = np.concatenate([np.asarray(s.meta["non_contact"], dtype=bool)
                                           for s in self.shards])

    def _check_agreement(self) -> None:
        first = self.shards[0]
        for shard in self.shards[1:]:
            for key in ("image_size", "dataset", "group", "split"):
                if shard.meta[key] != first.meta[key]:
                    raise ValueError(
                        f"{self.split_dir}: {shard.name} has {key}={shard.meta[key]!r} but "
                        f"{first.name} has {first.meta[key]!r}; a split's shards must agree "
                        f"(mixed outputs of two runs?); {integrity.rebuild_advice(self.split_dir)}")

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __repr__(self) -> str:
        return (f"SplitReader({str(self.split_dir)!r}: {len(self)} samples in "
                f"{len(self.shards)} shards, image_size={self.image_size})")

    # Pickle the path, not the arrays: pickling a memmap copies its data (DataLoader workers
    # started with spawn, Ray tasks); reopening in the new process maps the same files.
    def __getstate__(self) -> dict:
        return {"split_dir": self.split_dir}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["split_dir"])

    def _normalize(self, indices: np.ndarray) -> np.ndarray:
        n = len(self)
        bad = (indices < -n) | (indices >= n)
        if bad.any():
            raise IndexError(f"index {indices[bad][0]} out of range for {n} samples")
        return np.where(indices < 0, indices + n, indices)

    def _locate(self, indices: np.ndarray) -> np.ndarray:
        """Shard number of each (non-negative) global index."""
        return np.searchsorted(self._offsets, indices, side="right") - 1

    def __getitem__(self, i: int) -> dict:
        i = int(self._normalize(np.array([i]))[0])
        k = int(self._locate(np.array([i]))[0])
        shard, j = self.shards[k], i - int(self._offsets[k])
        return {
            # copies: views into a read-only memmap would surprise the caller (torch warns)
            "image": np.array(shard.images[j]),
            "contacts": unpack_contacts(np.asarray(shard.contacts[j])),
            "vertices": np.array(shard.vertices[j]),
            "dataset": self.dataset,
            "group": self.group,
            "id": shard.meta["ids"][j],
            "non_contact": bool(shard.meta["non_contact"][j]),
        }

    def get_batch(self, indices) -> dict:
        """Samples at `indices` (any order, repeats allowed), stacked like a collated batch.

        Arrays: image (B, H, W, 3) uint8, contacts (B, 778) bool, vertices (B, 778, 3)
        float32, non_contact (B,) bool; lists of B: id, dataset, group. Each shard is read
        once with sorted indices (sequential pages), then rows go back to the asked order.
        """
        indices = self._normalize(np.asarray(indices, dtype=np.int64).reshape(-1))
        order = np.argsort(indices, kind="stable")
        ordered = indices[order]
        shard_of = self._locate(ordered)
        b, (h, w) = len(indices), self.image_size
        out = {"images": np.empty((b, h, w, 3), np.uint8),  # keyed like Shard's fields
               "contacts": np.empty((b, PACKED_CONTACT_BYTES), np.uint8),
               "vertices": np.empty((b, NUM_HAND_VERTICES, 3), np.float32)}
        ids = [""] * b
        for k in np.unique(shard_of):
            rows = shard_of == k
            local, dest = ordered[rows] - self._offsets[k], order[rows]
            shard = self.shards[k]
            for key, array in out.items():
                array[dest] = getattr(shard, key)[local]
            for d, j in zip(dest, local):
                ids[d] = shard.meta["ids"][j]
        out["image"] = out.pop("images")
        out["contacts"] = unpack_contacts(out["contacts"])
        out["non_contact"] = self.non_contact[indices]
        out.update(id=ids, dataset=[self.dataset] * b, group=[self.group] * b)
        return out

    def contacts_matrix(self) -> np.ndarray:
        """(N, 778) bool contact labels of the whole split (for Balanced Contact Sampling)."""
        return np.concatenate([unpack_contacts(np.asarray(s.contacts)) for s in self.shards])


# ---------------------------------------------------------------------------- statistics

# Rows unpacked at a time: bounds compute_stats' memory (~50 MB) on million-sample splits.
_STATS_CHUNK = 65536


def compute_stats(reader: SplitReader) -> dict:
    """Label statistics of a split, from the data itself (never from a batch).

    contact_mean (778,) float64 per-vertex contact frequency; vertex_counts (2, 778) int64
    per-vertex counts of class 0 (non-contact) and 1 (contact); global_counts (2,) int64;
    num_samples; num_non_contact_samples; noncontact_ratio = global_counts[0] /
    global_counts[1] (inf without contact); shard_names, shard_counts (for staleness).
    """
    ones = np.zeros(NUM_HAND_VERTICES, np.int64)
    non_contact = 0
    for shard in reader.shards:
        for start in range(0, shard.count, _STATS_CHUNK):
            bits = unpack_contacts(np.asarray(shard.contacts[start:start + _STATS_CHUNK]))
            ones += bits.sum(axis=0)
            non_contact += int((~bits.any(axis=1)).sum())
    n = len(reader)
    vertex_counts = np.stack([n - ones, ones])
    global_counts = vertex_counts.sum(axis=1)
    return {
        "format_version": FORMAT_VERSION,
        "contact_mean": ones / n,
        "vertex_counts": vertex_counts,
        "global_counts": global_counts,
        "num_samples": n,
        "num_non_contact_samples": non_contact,
        "noncontact_ratio": (float(global_counts[0] / global_counts[1])
                             if global_counts[1] else float("inf")),
        "shard_names": [s.name for s in reader.shards],
        "shard_counts": [s.count for s in reader.shards],
    }


def write_stats(split_dir, stats: dict) -> Path:
    """Store stats as `<split_dir>/stats.npz`, atomically (temp file, then os.replace)."""
    path = Path(split_dir) / STATS_FILE
    tmp = path.with_name(f".{STATS_FILE}.partial-{os.getpid()}")  # clean_partials knows it
    arrays = {k: np.asarray(v) for k, v in stats.items()}
    try:
        with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a name
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_stats(split_dir) -> dict:
    """Read `<split_dir>/stats.npz` back into the dict compute_stats returns."""
    path = Path(split_dir) / STATS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no cached statistics at {path}; compute them with "
                                "haco.data.shards.ensure_stats(split_dir)")
    with np.load(path) as data:
        stats = {k: data[k] for k in data.files}
    for key in ("format_version", "num_samples", "num_non_contact_samples"):
        stats[key] = int(stats[key])
    stats["noncontact_ratio"] = float(stats["noncontact_ratio"])
    stats["shard_names"] = [str(s) for s in stats["shard_names"]]
    stats["shard_counts"] = [int(c) for c in stats["shard_counts"]]
    return stats


def ensure_stats(split_dir) -> dict:
    """The cached statistics of a split, recomputed (and re-cached) if missing or stale.

    Stale: the recorded (shard name, count) pairs differ from the split's complete shards,
    e.g. a resumed generator added shards. Overwriting a shard deletes the cache outright.
    """
    split_dir = Path(split_dir)
    try:
        cached = load_stats(split_dir)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):  # missing, older or garbled
        cached = None
    if cached is not None and cached.get("format_version") == FORMAT_VERSION:
        recorded = list(zip(cached["shard_names"], cached["shard_counts"]))
        if recorded == _listing(split_dir):
            return cached
    stats = compute_stats(SplitReader(split_dir))
    write_stats(split_dir, stats)
    return stats
