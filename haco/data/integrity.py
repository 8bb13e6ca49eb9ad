"""Shards that check themselves: a content digest per array, verified once per process,
and a split manifest that names every shard a complete split has.

    <shard>/meta.json    "digests": {"images.npy": <sha256, 16 hex>, ...}, written with it
    <split>/manifest.json {"shards": {"shard-00000": <count>, ...}}, written once the split
                          is complete (by the twin generator and by the importer)

`check_shard` raises `CorruptShardError` on a shard whose files are missing, truncated or
overwritten (a full disk, a copy cut short, zeroed pages): the digest of each file must be
the one its writer recorded. It hashes a shard once per process and remembers the files'
sizes and modification times, so the trial's reads after the launch's check are free;
changing a file (its mtime or size) makes it hash again. Shards written before digests
existed have none and pass unverified (`haco data verify` counts them).

What to do about a corrupt shard is the caller's: the twin generator deletes it and makes
it again (twins are deterministic), a trial reading an imported one stops with the
`haco data import` command that rebuilds its split (`rebuild_advice`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ARRAY_FILES = ("images.npy", "contacts.npy", "vertices.npy")
MANIFEST = "manifest.json"
IMPORT_REPORT_SUFFIX = ".import_report.json"   # <split dir> + this: haco/data/importer.py
_CHUNK = 1 << 22
_verified: set[tuple] = set()   # (shard dir, its files' sizes and mtimes) hashed already


class CorruptShardError(ValueError):
    """A shard whose files are missing, cut short or not what its writer recorded."""

    def __init__(self, shard_dir: Path, reason: str):
        self.shard_dir, self.reason = Path(shard_dir), reason
        super().__init__(f"{self.shard_dir}: {reason}; {rebuild_advice(self.shard_dir.parent)}")


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, 16 hex digits."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()[:16]


def digests(shard_dir: Path) -> dict[str, str]:
    """{array file: digest} of a shard's arrays, as its writer records them."""
    return {name: file_digest(Path(shard_dir) / name) for name in ARRAY_FILES}


def _fingerprint(shard_dir: Path) -> tuple:
    stats = [(shard_dir / n).stat() for n in (*ARRAY_FILES, "meta.json")]
    return (str(shard_dir.resolve()), *((s.st_size, s.st_mtime_ns) for s in stats))


def problem(shard_dir: Path, meta: dict | None = None) -> str | None:
    """Why the shard is corrupt, or None when it is whole (or has no digests to check)."""
    shard_dir = Path(shard_dir)
    try:
        meta = meta if meta is not None else json.loads((shard_dir / "meta.json").read_text())
    except (OSError, ValueError):
        return "meta.json is missing or unreadable"
    missing = [n for n in ARRAY_FILES if not (shard_dir / n).is_file()]
    if missing:
        return f"{', '.join(missing)} missing"
    recorded = meta.get("digests")
    if not recorded:
        return None
    key = _fingerprint(shard_dir)
    if key in _verified:
        return None
    for name in ARRAY_FILES:
        if file_digest(shard_dir / name) != recorded.get(name):
            return f"{name} does not match the digest written with it (truncated or overwritten)"
    _verified.add(key)
    return None


def check_shard(shard_dir: Path, meta: dict | None = None) -> None:
    """CorruptShardError unless the shard is whole."""
    reason = problem(shard_dir, meta)
    if reason:
        raise CorruptShardError(shard_dir, reason)


def map_arrays(shard_dir: Path) -> dict:
    """{images, contacts, vertices}: the shard's arrays memory-mapped read-only; a file
    cut short (in a shard too old to have digests) is a CorruptShardError too."""
    import numpy as np

    try:
        return {n[:-len(".npy")]: np.load(Path(shard_dir) / n, mmap_mode="r")
                for n in ARRAY_FILES}
    except (OSError, ValueError) as err:
        raise CorruptShardError(shard_dir, f"an array cannot be mapped ({err})") from None


def has_digests(shard_dir: Path) -> bool:
    try:
        return bool(json.loads((Path(shard_dir) / "meta.json").read_text()).get("digests"))
    except (OSError, ValueError):
        return False


# ---------------------------------------------------------------------------- manifests


def seal(split_dir: Path) -> Path:
    """Record the shards a complete split has ({shard name: samples}), so a shard deleted
    later is noticed; its writer calls this once the split is whole."""
    from haco.atomic import write_json

    split_dir = Path(split_dir)
    counts = {p.name: int(json.loads((p / "meta.json").read_text())["count"])
              for p in sorted(split_dir.glob("shard-*")) if p.is_dir()}
    return write_json(split_dir / MANIFEST, {"shards": counts})


def manifest(split_dir: Path) -> dict[str, int] | None:
    """{shard name: samples} the split was completed with, or None (written before
    manifests existed, or still being written)."""
    path = Path(split_dir) / MANIFEST
    if not path.is_file():
        return None
    return {str(k): int(v) for k, v in json.loads(path.read_text())["shards"].items()}


def missing_shards(split_dir: Path, present: list[str]) -> list[str]:
    """Shards the manifest names that are not on disk (deleted), in order."""
    listed = manifest(split_dir) or {}
    return [name for name in listed if name not in set(present)]


def check_split(split_dir: Path, present: list[str]) -> None:
    """CorruptShardError when a shard the split's manifest names was deleted."""
    deleted = missing_shards(split_dir, present)
    if deleted:
        raise CorruptShardError(Path(split_dir) / deleted[0], f"deleted: the split's manifest "
                                f"names {len(deleted)} shard(s) not on disk")


# ---------------------------------------------------------------------------- advice


def rebuild_advice(split_dir: Path) -> str:
    """How to rebuild a split: the import command its report recorded, or for twins the
    generator (which remakes a corrupt twin shard by itself)."""
    split_dir = Path(split_dir)
    report = split_dir.with_name(split_dir.name + IMPORT_REPORT_SUFFIX)
    if report.is_file():
        found = json.loads(report.read_text())
        return (f"rebuild the split with `haco data import dataset={found.get('dataset', '?')} "
                f"split={found.get('split', split_dir.name)} input={found.get('input', '?')}` "
                "(add the data.root=... it was imported with)")
    if "synth" in split_dir.parts:
        return ("it is a twin: the next `haco data synth`, `haco train` or launch with the "
                "same config deletes and regenerates it")
    return "regenerate it with `haco data synth` or re-import it with `haco data import`"
