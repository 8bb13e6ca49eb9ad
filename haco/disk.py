"""Disk space: planned before a command writes, and a full disk named when it still runs out.

Every command that writes large data estimates its bytes from its recipe (what is still
missing only, so a resumed build needs only the rest) and calls `require` before it starts:
too little room is a `NotEnoughSpaceError`, a ConfigError (exit 2, nothing written) naming
the path, the bytes needed and free, and the key that moves it. A write that still runs
out of space (another process filled the disk) is turned by `on_full` into a
`DiskFullError`: one line naming the file, its bytes and what is free. Commands exit 1 on
it (they started, and what they finished is kept: the next run continues from there).

`free_bytes` is the free-space probe; tests replace it (`haco.disk.free_bytes`) or point
the data root at a small tmpfs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from haco.config import ConfigError

DATA_ROOT_KEY = "data.root=... or HACO_DATA"
MARGIN = 1.05            # estimates are of payload bytes; files also hold headers, blocks
BLOCK = 4096             # a file occupies whole blocks: the smallest file costs one
SPLIT_EXTRA = 32_000     # a split's stats.npz (~19 KB of label counts) and manifest.json
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
SHORT_WRITE = "requested and"  # numpy's tofile: "49152 requested and 36736 written"


# ---------------------------------------------------------------------------- probing


def free_bytes(path: str | Path) -> int:
    """Free bytes (for this user) of the filesystem holding `path`, or the nearest existing
    folder above it (a data root that a command is about to create)."""
    return shutil.disk_usage(_existing(path)).free


def _existing(path: str | Path) -> Path:
    """`path` or the nearest folder above it that exists."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def human(count: float) -> str:
    """Bytes as people read them: 950 B, 36.7 KB, 1.2 GB (powers of 1000, as `df -H`)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------- before writing


class NotEnoughSpaceError(ConfigError):
    """A command would not fit on its filesystem; raised before it writes anything."""


def require(path: str | Path, needed: int, moved_by: str = DATA_ROOT_KEY) -> None:
    """Raise NotEnoughSpaceError when the filesystem of `path` has less than `needed` free."""
    if needed <= 0:
        return
    free = free_bytes(path)
    if free < needed:
        raise NotEnoughSpaceError(
            f"not enough disk space for {path}: {human(needed)} needed, {human(free)} free "
            f"({needed} > {free} bytes); free some space or write elsewhere with {moved_by}")


@dataclass(frozen=True)
class Need:
    """Bytes one part of a command will write under `path` (`what` names it in a plan)."""

    what: str
    path: Path
    bytes: int
    moved_by: str = DATA_ROOT_KEY


def by_filesystem(needs: list[Need]) -> list[list[Need]]:
    """The needs grouped by the filesystem they land on (they add up there)."""
    groups: dict[int, list[Need]] = {}
    for need in needs:
        groups.setdefault(_existing(need.path).stat().st_dev, []).append(need)
    return list(groups.values())


def require_all(needs: list[Need]) -> None:
    """`require` for several writes at once: those on one filesystem must fit together."""
    for group in by_filesystem([n for n in needs if n.bytes > 0]):
        if len(group) == 1:
            require(group[0].path, group[0].bytes, group[0].moved_by)
            continue
        needed, free = sum(n.bytes for n in group), free_bytes(group[0].path)
        if free < needed:
            parts = "; ".join(f"{n.what} {human(n.bytes)} under {n.path} (moved by "
                              f"{n.moved_by})" for n in group)
            raise NotEnoughSpaceError(
                f"not enough disk space: {human(needed)} needed, {human(free)} free on one "
                f"filesystem ({needed} > {free} bytes): {parts}")


def plan_line(needs: list[Need]) -> str:
    """`disk: twins 1.2 MB under /data, checkpoints 5 MB under /runs; 41.0 GB free`."""
    parts = [f"{n.what} {human(n.bytes)} under {n.path}" for n in needs if n.bytes > 0]
    if not parts:
        return "disk: nothing large to write"
    groups = by_filesystem([n for n in needs if n.bytes > 0])
    frees = [f"{human(free_bytes(g[0].path))} free" + (f" on {g[0].path}" if len(groups) > 1
                                                         else "") for g in groups]
    return f"disk: {', '.join(parts)}; {', '.join(frees)}"


# ---------------------------------------------------------------------------- while writing


class DiskFullError(OSError):
    """A write ran out of space mid-way (ENOSPC, EDQUOT or numpy's short write). Its
    message is one line; an OSError, so code that handles write failures still does."""

    def __init__(self, path: str | Path, needed: int, free: int, moved_by: str = DATA_ROOT_KEY):
        self.path, self.needed, self.free, self.moved_by = str(path), needed, free, moved_by
        super().__init__(errno.ENOSPC, self.message())

    def message(self) -> str:
        needed = f"{human(self.needed)} needed, " if self.needed else ""
        return (f"disk full writing {self.path} ({needed}{human(self.free)} free); what "
                "was finished is kept: free some space or "
                f"write elsewhere with {self.moved_by}, then run the same command again "
                "to continue")

    def __str__(self) -> str:
        return self.message()

    def __reduce__(self):  # raised in a worker process, re-raised in the parent
        return type(self), (self.path, self.needed, self.free, self.moved_by)


def is_disk_full(err: BaseException) -> bool:
    """Whether `err` is a write that ran out of space."""
    if isinstance(err, DiskFullError):
        return True
    return isinstance(err, OSError) and (err.errno in FULL_ERRNOS
                                         or SHORT_WRITE in str(err))


@contextlib.contextmanager
def on_full(path: str | Path, needed: int, moved_by: str = DATA_ROOT_KEY) -> Iterator[None]:
    """Turn a disk-full OSError raised inside into a DiskFullError about `path` (the
    file or shard being written, `needed` its bytes); other errors pass unchanged."""
    try:
        yield
    except OSError as err:
        if isinstance(err, DiskFullError) or not is_disk_full(err):
            raise
        raise DiskFullError(path, needed, free_bytes(path), moved_by) from err


def report_full(err: OSError, program: str = "haco") -> int:
    """Print a disk-full error as one line (its traceback too with HYDRA_FULL_ERROR=1);
    the exit code, 1: the command had started, and what it finished is kept."""
    if not isinstance(err, DiskFullError):  # raised where no writer named its file
        where = err.filename or "a file"
        err = DiskFullError(where, 0, free_bytes(where) if err.filename else 0)
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        traceback.print_exc()
    print(f"{program}: {err}", file=sys.stderr)
    return 1


# ---------------------------------------------------------------------------- estimates


def on_disk(payload: int, files: int = 1) -> int:
    """Bytes `files` files holding `payload` bytes take: each rounded up to whole blocks."""
    return payload + files * BLOCK


@dataclass(frozen=True)
class ShardSizes:
    """Bytes of the shard format (haco/data/shards.py) at one image size."""

    image_size: int

    @property
    def sample(self) -> int:
        from haco.labels import NUM_HAND_VERTICES

        image = self.image_size * self.image_size * 3                  # uint8 RGB
        contacts = (NUM_HAND_VERTICES + 7) // 8                        # packed bits
        vertices = NUM_HAND_VERTICES * 3 * 4                           # float32
        meta = 64                                                      # id, non_contact
        return image + contacts + vertices + meta

    def shards(self, samples: int, shards: int, splits: int = 0) -> int:
        """Bytes of `shards` shards holding `samples` samples (4 files each), with margin;
        `splits` whose manifest and label statistics are (re)written too."""
        return int((on_disk(samples * self.sample, files=4 * shards)
                    + splits * SPLIT_EXTRA) * MARGIN)


def pretrain_sample_bytes(image_size: int, target_size: int, keypoints: int = 84) -> int:
    """One pretraining sample (haco/pretrain/samples.py): image, keypoints, pose, segment,
    depth."""
    return (image_size * image_size * 3 + 2 * keypoints * 3 * 4
            + target_size * target_size * (1 + 4))


def checkpoint_bytes(parameters: int) -> int:
    """A training checkpoint: float32 weights and AdamW's two moments, 3x the weights."""
    return 3 * 4 * parameters
