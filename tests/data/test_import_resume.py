"""`haco data import` stopped mid-way (a full disk, an interrupt) continues where it
stopped; the disk it needs is checked first; two imports of one split never share one
staging directory."""

from __future__ import annotations

import errno
import fcntl

import numpy as np
import pytest

from haco import disk
from haco.config import load_config
from haco.data import importer
from haco.data.shards import SplitReader, completed_shards

from .test_importer import good_input, report, run, split_dir, write_bad_record

SHARD = "data.shard_size=2"  # 7 records: chunks of 2, 2, 2, 1


def records_with_a_bad_one(input_dir):
    good_input(input_dir, 6)
    write_bad_record(input_dir, "no_hand", np.random.default_rng(1))


def without_paths(found: dict) -> dict:
    return {k: v for k, v in found.items() if k not in ("input", "output")}


def test_an_import_stopped_by_a_full_disk_continues_where_it_stopped(tmp_path, monkeypatch,
                                                                    capsys):
    records_with_a_bad_one(tmp_path / "in")
    assert run(tmp_path / "whole", "MOW", "test", tmp_path / "in", SHARD,
               "max_failures=0.2") == 0
    expected = without_paths(report(tmp_path / "whole", "MOW", "test"))

    write = importer.write_shard

    def fills_at_chunk_2(staging, index, **arrays):
        if index == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(staging, index, **arrays)
    monkeypatch.setattr(importer, "write_shard", fills_at_chunk_2)
    with pytest.raises(disk.DiskFullError, match=r"\.test\.importing/shard-00002"):
        run(tmp_path, "MOW", "test", tmp_path / "in", SHARD, "max_failures=0.2")
    staging = tmp_path / "data" / "real" / "MOW" / ".test.importing"
    assert completed_shards(staging) == [0, 1]
    assert not split_dir(tmp_path, "MOW", "test").exists()  # nothing published half-way

    read = importer.read_sample
    seen = []
    monkeypatch.setattr(importer, "write_shard", write)
    monkeypatch.setattr(importer, "read_sample", lambda record, *a: seen.append(record.name)
                        or read(record, *a))
    assert run(tmp_path, "MOW", "test", tmp_path / "in", SHARD, "max_failures=0.2") == 0
    assert seen == ["r3", "r4", "r5"]  # sorted: no_hand r0 | r1 r2 | r3 r4 | r5: chunks 2, 3
    assert without_paths(report(tmp_path, "MOW", "test")) == expected
    out = split_dir(tmp_path, "MOW", "test")
    assert SplitReader(out).get_batch(list(range(6)))["id"] == [f"r{i}" for i in range(6)]
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_a_staging_directory_of_other_records_starts_over(tmp_path, monkeypatch):
    good_input(tmp_path / "first", 4)
    write = importer.write_shard

    def interrupted_at_chunk_1(staging, index, **arrays):
        if index == 1:
            raise KeyboardInterrupt
        return write(staging, index, **arrays)
    monkeypatch.setattr(importer, "write_shard", interrupted_at_chunk_1)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, "MOW", "test", tmp_path / "first", SHARD)
    monkeypatch.undo()
    good_input(tmp_path / "second", 3, prefix="new")
    assert run(tmp_path, "MOW", "test", tmp_path / "second", SHARD) == 0
    out = split_dir(tmp_path, "MOW", "test")
    assert SplitReader(out).get_batch([0, 1, 2])["id"] == ["new0", "new1", "new2"]


def test_a_second_import_of_the_split_is_refused_while_one_runs(tmp_path, capsys):
    good_input(tmp_path / "in", 2)
    staging = tmp_path / "data" / "real" / "MOW" / ".test.importing"
    staging.mkdir(parents=True)
    with open(staging / importer.LOCK, "a") as held:  # as a running import holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        assert run(tmp_path, "MOW", "test", tmp_path / "in") == 2
    assert "an import of MOW/test is running already" in capsys.readouterr().err
    assert run(tmp_path, "MOW", "test", tmp_path / "in") == 0  # once it ended


def test_an_import_that_does_not_fit_stops_before_it_starts(tmp_path, monkeypatch):
    good_input(tmp_path / "in", 3)
    monkeypatch.setattr(disk, "free_bytes", lambda path: 10_000)
    cfg = load_config("data_import", ["profile=smoke", f"data.root={tmp_path / 'data'}",
                                      "dataset=MOW", "split=test", f"input={tmp_path / 'in'}"])
    with pytest.raises(disk.NotEnoughSpaceError, match="10.0 KB free"):
        importer.import_command(cfg)
    assert not (tmp_path / "data").exists()
