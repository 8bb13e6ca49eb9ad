"""`haco data synth` and the pretraining set on a disk that is too small: stopped before
they start (exit 2, nothing written), or, when the disk fills up mid-way, one line (exit
1), no partial shard, and the next run with room completes."""

import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from haco import cli, disk
from haco.config import load_config
from haco.data import integrity, shards
from haco.paths import project_root
from haco.pretrain.dataset import build_set

SMOKE = ["data", "synth", "profile=smoke", "data.twins=[MOW]", "data.workers=2"]


def everything_under(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def partials(root):
    return [p for p in root.rglob("*") if ".partial" in p.name]


def test_synth_stops_before_it_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(disk, "free_bytes", lambda path: 36_736)
    root = tmp_path / "data"
    assert cli.main([*SMOKE, f"data.root={root}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"haco: not enough disk space for {root / 'synth'}")
    assert "needed, 36.7 KB free" in err and "data.root=... or HACO_DATA" in err
    assert not root.exists()


class FullOnTestSplit:
    """numpy as the shard writer sees it, on a disk that fills up at the MOW test split."""

    def __getattr__(self, name):
        return getattr(np, name)

    def save(self, path, array):
        if "/test/" in str(path):
            raise OSError(f"{array.nbytes} requested and {array.nbytes // 2} written")
        np.save(path, array)


def test_synth_on_a_disk_filling_up_ends_in_one_line_and_resumes(tmp_path, monkeypatch,
                                                                 capsys):
    root = tmp_path / "data"
    monkeypatch.setattr(shards, "np", FullOnTestSplit())  # forked workers inherit it
    assert cli.main([*SMOKE, f"data.root={root}"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("haco: disk full writing ") and "MOW/test/shard-00000" in last
    assert "free" in last and "Traceback" not in last
    assert partials(root) == []
    kept = {p: p.stat().st_mtime_ns for p in root.rglob("shard-*")}
    assert kept  # the splits written before the disk filled stay

    monkeypatch.undo()
    assert cli.main([*SMOKE, f"data.root={root}"]) == 0
    for path, mtime in kept.items():
        assert path.stat().st_mtime_ns == mtime  # resumed, not rebuilt
    for split in ("train", "val", "test"):
        split_dir = next(root.rglob(f"synth:MOW/{split}"))
        assert shards.completed_shards(split_dir) and integrity.manifest(split_dir)


def test_the_pretraining_set_stops_before_it_starts(tmp_path, monkeypatch):
    monkeypatch.setattr(disk, "free_bytes", lambda path: 1000)
    cfg = load_config("pretrain", ["profile=smoke", f"data.root={tmp_path / 'data'}"])
    with pytest.raises(disk.NotEnoughSpaceError, match="pretrain"):
        build_set(cfg, progress=False)
    assert not (tmp_path / "data").exists()


# ---------------------------------------------------------------------------- a real tmpfs


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 3 MB tmpfs (root only: skipped where mount is not allowed)."""
    where = tmp_path / "tmpfs"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(where)],
                             check=False, capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield where
    subprocess.run(["umount", str(where)], check=False)


def synth(root, *extra):
    return subprocess.run([sys.executable, "-m", "haco.cli", "data", "synth", "profile=smoke",
                           f"data.root={root}", "data.workers=2", *extra], check=False,
                          cwd=project_root(), capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_synth_on_a_real_full_tmpfs(small_tmpfs):
    before = synth(small_tmpfs)  # every smoke twin: about 5.3 MB
    assert before.returncode == 2, before.stderr
    assert "not enough disk space" in before.stderr and "3.1 MB free" in before.stderr
    assert everything_under(small_tmpfs) == []

    # Fill the disk behind the check's back: the twins fit when checked, not when written.
    subprocess.run(["mount", "-o", "remount,size=8m", str(small_tmpfs)], check=True)
    during = subprocess.Popen([sys.executable, "-m", "haco.cli", "data", "synth",
                               "profile=smoke", f"data.root={small_tmpfs}", "data.workers=2"],
                              cwd=project_root(), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(small_tmpfs.rglob("shard-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    (small_tmpfs / "filler").write_bytes(b"\0" * 4_500_000)
    _, err = during.communicate(timeout=300)
    lines = [line for line in err.splitlines() if line.startswith("haco:")]
    assert during.returncode == 1, err
    assert len(lines) == 1 and lines[0].startswith("haco: disk full writing ")
    assert "Traceback" not in err and partials(small_tmpfs) == []

    (small_tmpfs / "filler").unlink()
    again = synth(small_tmpfs)
    assert again.returncode == 0, again.stderr
    assert partials(small_tmpfs) == []
    shutil.rmtree(small_tmpfs / "synth")
