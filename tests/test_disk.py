"""haco/disk.py (space planned before a write, a full disk named during one) and
haco/workers.py (a pool that stops its workers when its command stops)."""

import errno
import pickle
import time

import numpy as np
import psutil
import pytest

from haco import disk
from haco.config import ConfigError
from haco.data import shards
from haco.workers import worker_pool


def test_sizes_read_as_people_read_them():
    assert disk.human(950) == "950 B"
    assert disk.human(36_736) == "36.7 KB"
    assert disk.human(1.2e9) == "1.2 GB"


def test_the_probe_measures_the_nearest_existing_folder(tmp_path):
    assert disk.free_bytes(tmp_path / "not" / "yet") == disk.free_bytes(tmp_path)


def test_require_names_path_sizes_and_the_key(tmp_path, monkeypatch):
    monkeypatch.setattr(disk, "free_bytes", lambda path: 300_000_000)
    disk.require(tmp_path, 200_000_000)  # fits
    with pytest.raises(ConfigError) as caught:
        disk.require(tmp_path / "data", 1_200_000_000)
    message = str(caught.value)
    assert isinstance(caught.value, disk.NotEnoughSpaceError)
    for part in (str(tmp_path / "data"), "1.2 GB needed", "300.0 MB free",
                 "data.root=... or HACO_DATA"):
        assert part in message


def test_needs_on_one_filesystem_add_up(tmp_path, monkeypatch):
    monkeypatch.setattr(disk, "free_bytes", lambda path: 1000)
    twins = disk.Need("twins", tmp_path / "a", 600)
    checkpoints = disk.Need("checkpoints", tmp_path / "b", 600, "sweep.storage_path=...")
    disk.require_all([twins])
    with pytest.raises(disk.NotEnoughSpaceError, match="sweep.storage_path"):
        disk.require_all([twins, checkpoints])
    line = disk.plan_line([twins, checkpoints])
    assert line == (f"disk: twins 600 B under {tmp_path / 'a'}, checkpoints 600 B under "
                    f"{tmp_path / 'b'}; 1.0 KB free")


@pytest.mark.parametrize("error", [OSError("49152 requested and 36736 written"),
                                   OSError(errno.ENOSPC, "No space left on device"),
                                   OSError(errno.EDQUOT, "Disk quota exceeded")])
def test_a_full_disk_becomes_one_line_naming_the_file(tmp_path, error):
    with pytest.raises(disk.DiskFullError) as caught, \
            disk.on_full(tmp_path / "shard-00003", 49152):
        raise error
    message = str(caught.value)
    assert "\n" not in message and f"disk full writing {tmp_path / 'shard-00003'}" in message
    assert "49.2 KB needed" in message and "free" in message
    again = pickle.loads(pickle.dumps(caught.value))  # as a worker process sends it back
    assert str(again) == message and again.errno == errno.ENOSPC


def test_other_errors_pass_unchanged(tmp_path):
    with pytest.raises(PermissionError), disk.on_full(tmp_path, 1):
        raise PermissionError(errno.EACCES, "denied")


def test_the_shard_estimate_covers_a_written_shard(tmp_path):
    n, size = 16, 32
    images = np.zeros((n, size, size, 3), np.uint8)
    contacts = np.zeros((n, 778), bool)
    vertices = np.zeros((n, 778, 3), np.float32)
    meta = {"dataset": "MOW", "split": "train", "group": "HO",
            "ids": [f"MOW/train/{i:06d}-grasp" for i in range(n)]}
    shard = shards.write_shard(tmp_path, 0, images, contacts, vertices, meta)
    written = sum(p.stat().st_size for p in shard.iterdir())
    estimate = disk.ShardSizes(size).shards(n, 1)
    assert written <= estimate < 1.5 * written + 4 * disk.BLOCK


# ---------------------------------------------------------------------------- the pool


def _nap(seconds: float, full: str | None = None) -> float:
    """Sleep; or, given `full`, fail as numpy does on a full disk while writing it."""
    if full:
        with disk.on_full(full, 10):
            raise OSError("10 requested and 3 written")
    time.sleep(seconds)
    return seconds


def _children() -> list:
    return psutil.Process().children(recursive=True)


def test_a_workers_full_disk_stops_the_pool():
    started = time.monotonic()
    with pytest.raises(disk.DiskFullError, match="disk full writing /x/shard-00001"), \
            worker_pool(2) as pool:
        list(pool.each_completed(_nap, [(30,), (0, "/x/shard-00001"), (30,), (30,)]))
    assert time.monotonic() - started < 10  # the other worker's 30 s task was stopped
    assert _children() == []


def test_an_interrupt_cancels_the_queue_and_ends_the_workers():
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), worker_pool(2) as pool:
        for _ in pool.each_completed(_nap, [(0.1,)] + [(30,)] * 6):
            raise KeyboardInterrupt  # as SIGTERM or Ctrl-C would, mid-loop
    assert time.monotonic() - started < 10  # the 30 s tasks were stopped, not awaited
    assert _children() == []
