"""haco.data.integrity: truncated, overwritten and deleted shards are noticed and named;
a twin's are regenerated, an import's stop the read with the command that rebuilds it;
`haco data verify` reports all three."""

from __future__ import annotations

import json
import warnings

import pytest

from haco.config import load_config
from haco.data import integrity
from haco.data.integrity import CorruptShardError
from haco.data.shards import SplitReader, open_shard, write_shard
from haco.data.verify import verify_command

from .test_shards import make_samples


@pytest.fixture
def imported(tmp_path):
    """An imported split of three shards, sealed, with the report its import wrote."""
    split_dir = tmp_path / "real" / "MOW" / "test"
    for index in range(3):
        write_shard(split_dir, index, *make_samples(4, seed=index, offset=4 * index))
    integrity.seal(split_dir)
    report = split_dir.with_name("test" + integrity.IMPORT_REPORT_SUFFIX)
    report.write_text(json.dumps({"dataset": "MOW", "split": "test", "input": "/mnt/mow"}))
    return split_dir


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def zero_out(path):
    """Overwrite the data (not the .npy header) with zeros, keeping the size."""
    data = bytearray(path.read_bytes())
    data[128:] = bytes(len(data) - 128)
    path.write_bytes(bytes(data))


def test_a_whole_shard_opens(imported):
    assert open_shard(imported / "shard-00001").count == 4
    assert len(SplitReader(imported)) == 12


def test_a_truncated_imported_shard_names_itself_and_the_import_command(imported):
    truncate(imported / "shard-00001" / "images.npy")
    with pytest.raises(CorruptShardError) as caught:
        SplitReader(imported)
    message = str(caught.value)
    assert "shard-00001" in message and "images.npy does not match" in message
    assert "haco data import dataset=MOW split=test input=/mnt/mow" in message
    assert "mmap length" not in message


def test_zeroed_images_are_caught(imported):
    zero_out(imported / "shard-00002" / "images.npy")
    with pytest.raises(CorruptShardError, match="shard-00002.*images.npy does not match"):
        open_shard(imported / "shard-00002")


def test_a_deleted_shard_is_noticed_through_the_manifest(imported):
    import shutil

    shutil.rmtree(imported / "shard-00001")
    with pytest.raises(CorruptShardError, match="shard-00001: deleted.*haco data import"):
        SplitReader(imported)


def test_a_shard_is_hashed_once_per_process_until_it_changes(imported, monkeypatch):
    calls = []
    real = integrity.file_digest
    monkeypatch.setattr(integrity, "file_digest", lambda p: calls.append(p) or real(p))
    shard = imported / "shard-00000"
    open_shard(shard)
    hashed = len(calls)
    open_shard(shard)
    assert len(calls) == hashed  # remembered by size and mtime
    zero_out(shard / "vertices.npy")
    with pytest.raises(CorruptShardError, match="vertices.npy"):
        open_shard(shard)


def test_a_shard_from_before_digests_is_read_and_a_cut_one_still_named(tmp_path):
    shard = write_shard(tmp_path / "old", 0, *make_samples(3, seed=0))
    meta = json.loads((shard / "meta.json").read_text())
    del meta["digests"]
    (shard / "meta.json").write_text(json.dumps(meta))
    assert open_shard(shard).count == 3 and not integrity.has_digests(shard)
    truncate(shard / "vertices.npy")
    with pytest.raises(CorruptShardError, match="cannot be mapped"):
        open_shard(shard)


# ---------------------------------------------------------------------------- twins


@pytest.fixture
def twin(tmp_path):
    from haco.synth.generate import synthesize

    cfg = load_config("data_synth", ["profile=smoke", f"data.root={tmp_path}",
                                     "data.twins=[MOW]", "data.shard_size=4"])
    root = synthesize(cfg, progress=False)
    return cfg, root / "synth:MOW" / "train"


def test_a_corrupt_or_deleted_twin_shard_is_regenerated_with_a_warning(twin):
    import shutil

    from haco.synth.generate import synthesize

    cfg, split_dir = twin
    before = {name: integrity.digests(split_dir / name) for name in ("shard-00000", "shard-00001")}
    truncate(split_dir / "shard-00000" / "images.npy")
    shutil.rmtree(split_dir / "shard-00001")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        synthesize(cfg, progress=False)
    assert any("shard-00000 is corrupt" in str(w.message) for w in caught)
    after = {name: integrity.digests(split_dir / name) for name in before}
    assert after == before  # deterministic: the same bytes again
    assert len(SplitReader(split_dir)) == sum(integrity.manifest(split_dir).values())


def test_verify_reports_truncated_zeroed_and_deleted_shards(twin, capsys):
    import shutil

    cfg, split_dir = twin
    test_dir = split_dir.with_name("test")
    truncate(split_dir / "shard-00000" / "images.npy")
    zero_out(test_dir / "shard-00000" / "contacts.npy")
    shutil.rmtree(split_dir / "shard-00001")
    verify = load_config("data_verify", [f"data.root={cfg.data.root}"])
    assert verify_command(verify) == 1
    out = capsys.readouterr().out
    assert "synth:MOW/train" in out and "1 corrupt (shard-00000: images.npy" in out
    assert "1 deleted (shard-00001)" in out and "regenerates it" in out
    assert "synth:MOW/test" in out and "contacts.npy does not match" in out
    assert "2 split(s) with a corrupt or deleted shard" in out
    from haco.synth.generate import synthesize

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synthesize(cfg, progress=False)
    assert verify_command(verify) == 0
    assert "0 split(s) with a corrupt or deleted shard" in capsys.readouterr().out


def test_a_passed_check_is_remembered_on_this_machine_for_other_processes(imported,
                                                                           monkeypatch):
    shard = imported / "shard-00000"
    open_shard(shard)
    assert integrity.verified_record(imported).is_file()
    assert not any("verified" in p.name for p in imported.iterdir())  # the data untouched
    monkeypatch.setattr(integrity, "_verified", set())  # as a new process starts
    calls = []
    real = integrity.file_digest
    monkeypatch.setattr(integrity, "file_digest", lambda p: calls.append(p) or real(p))
    open_shard(shard)
    assert calls == []  # a stat, no hash
    assert integrity.problem(shard, force=True) is None and len(calls) == 3  # verify hashes
