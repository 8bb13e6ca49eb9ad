"""Shards that check themselves: a content digest per array, verified once per process,
and a split manifest that names every shard a complete split has.

    <shard>/meta.json    "digests": {"images.npy": <sha256, 16 hex>, ...}, written with it
    <split>/manifest.json {"shards": {"shard-00000": <count>, ...}}, written once the split
                          is complete (by the twin generator and by the importer)

`check_shard` raises `CorruptShardError` on a shard whose files are missing, truncated or
overwritten (a full disk, a copy cut short, zeroed pages): the digest of each file must be
the one its writer recorded. A shard is hashed once per machine, not once per process: its
files' sizes and modification times when it passed are kept in memory and in this
machine's cache (`haco.paths.cache_root()/verified/`, never in the data root, which may be
shared or read-only), so later trials and their loader workers pay a `stat`, and a file
that changes (its size or mtime) is hashed again. `haco data verify` hashes everything
regardless. Shards written before digests existed have none and pass unverified (verify
counts them).

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
IMPORT_REPORT_SUFFIX = ".import_report.json"
_CHUNK = 1 << 22
_verified: set[tuple] = set()   # (shard dir, its files' sizes and mtimes) hashed already


def import_report_of(split_dir: Path) -> Path:
    """Where `haco data import` writes the report of a split: beside it."""
    split_dir = Path(split_dir)
    return split_dir.with_name(split_dir.name + IMPORT_REPORT_SUFFIX)


class CorruptShardError(ValueError):
    """A shard whose files are missing, cut short or not what its writer recorded."""

    def __init__(self, shard_dir: Path, reason: str):
        self.shard_dir, self.reason = Path(shard_dir), reason
        super().__init__(f"{self.shard_dir}: {reason}; {rebuild_advice(self.shard_dir.parent)}")


def hash_file(hasher, path: Path):
    """Feed a file's bytes to `hasher` in chunks; returns it."""
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, 16 hex digits."""
    return hash_file(hashlib.sha256(), path).hexdigest()[:16]


def digests(shard_dir: Path) -> dict[str, str]:
    """{array file: digest} of a shard's arrays, as its writer records them."""
    return {name: file_digest(Path(shard_dir) / name) for name in ARRAY_FILES}


def _stats(shard_dir: Path) -> list[list[int]]:
    """[size, mtime_ns] of the shard's files: what a passed check is remembered by."""
    return [[(shard_dir / n).stat().st_size, (shard_dir / n).stat().st_mtime_ns]
            for n in (*ARRAY_FILES, "meta.json")]


def verified_record(split_dir: Path) -> Path:
    """This machine's record of a split's passed checks: {shard name: its files' stats}."""
    from haco.paths import cache_root

    key = hashlib.sha256(str(Path(split_dir).resolve()).encode()).hexdigest()[:16]
    return cache_root() / "verified" / f"{key}.json"


def _recorded(shard_dir: Path) -> dict:
    try:
        return json.loads(verified_record(shard_dir.parent).read_text())
    except (OSError, ValueError):
        return {}


def _remember(shard_dir: Path, stats: list) -> None:
    """Record a passed check (best effort: a cache that cannot be written, or a concurrent
    writer whose record wins, only costs a hash later)."""
    from haco.atomic import write_json

    record = _recorded(shard_dir)
    record[shard_dir.name] = stats
    try:
        write_json(verified_record(shard_dir.parent), record)
    except OSError:
        pass


def problem(shard_dir: Path, meta: dict | None = None, force: bool = False) -> str | None:
    """Why the shard is corrupt, or None when it is whole (or has no digests to check).
    `force`: hash it even if it passed before with the same files."""
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
    stats = _stats(shard_dir)
    key = (str(shard_dir.resolve()), json.dumps(stats))
    if not force and (key in _verified or _recorded(shard_dir).get(shard_dir.name) == stats):
        _verified.add(key)
        return None
    for name in ARRAY_FILES:
        if file_digest(shard_dir / name) != recorded.get(name):
            return f"{name} does not match the digest written with it (truncated or overwritten)"
    _verified.add(key)
    _remember(shard_dir, stats)
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


def shard_counts(split_dir: Path) -> dict[str, int]:
    """{shard name: samples} of the split's complete shards, from their meta.json alone
    (nothing hashed, no array mapped)."""
    return {p.name: int(json.loads((p / "meta.json").read_text())["count"])
            for p in sorted(Path(split_dir).glob("shard-*")) if p.is_dir()}


def seal(split_dir: Path) -> Path:
    """Record the shards a complete split has ({shard name: samples}), so a shard deleted
    later is noticed; its writer calls this once the split is whole."""
    from haco.atomic import write_json

    return write_json(Path(split_dir) / MANIFEST, {"shards": shard_counts(split_dir)})


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
    report = import_report_of(split_dir)
    if report.is_file():
        found = json.loads(report.read_text())
        return (f"rebuild the split with `haco data import dataset={found.get('dataset', '?')} "
                f"split={found.get('split', split_dir.name)} input={found.get('input', '?')}` "
                "(add the data.root=... it was imported with)")
    if "synth" in split_dir.parts:
        return ("it is a twin: the next `haco data synth`, `haco train` or launch with the "
                "same config deletes and regenerates it")
    return "regenerate it with `haco data synth` or re-import it with `haco data import`"
