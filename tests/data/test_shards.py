"""haco.data.shards: round trips, atomic writes and resume, errors, cached statistics."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from haco.data import shards
from haco.data.shards import (
    FORMAT_VERSION,
    ShardVersionError,
    SplitReader,
    clean_partials,
    completed_shards,
    compute_stats,
    ensure_stats,
    load_stats,
    pack_contacts,
    unpack_contacts,
    write_shard,
    write_stats,
)

V = 778
H, W = 6, 5


def make_samples(n: int, seed: int, offset: int = 0, non_contact_every: int = 3):
    """Random shard content; every `non_contact_every`-th sample has no contact at all."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, H, W, 3), dtype=np.uint8)
    contacts = rng.random((n, V)) < 0.1
    contacts[::non_contact_every] = False
    vertices = rng.normal(size=(n, V, 3)).astype(np.float32)
    meta = {"dataset": "synth:MOW", "split": "train", "group": "HO",
            "ids": [f"s{offset + i:04d}" for i in range(n)]}
    return images, contacts, vertices, meta


@pytest.fixture
def split(tmp_path):
    """A split of two shards (4 + 3 samples); returns its dir and the concatenated truth."""
    split_dir = tmp_path / "synth-abc" / "synth:MOW" / "train"
    parts = [make_samples(4, seed=0), make_samples(3, seed=1, offset=4)]
    for index, part in enumerate(parts):
        write_shard(split_dir, index, *part)
    truth = {
        "image": np.concatenate([p[0] for p in parts]),
        "contacts": np.concatenate([p[1] for p in parts]),
        "vertices": np.concatenate([p[2] for p in parts]),
        "id": [i for p in parts for i in p[3]["ids"]],
    }
    return split_dir, truth


def test_pack_unpack_round_trip():
    bools = np.random.default_rng(0).random((5, V)) < 0.5
    packed = pack_contacts(bools)
    assert packed.shape == (5, 98) and packed.dtype == np.uint8
    assert np.array_equal(unpack_contacts(packed), bools)
    assert np.array_equal(packed, np.packbits(bools, axis=-1, bitorder="big"))
    assert unpack_contacts(packed[0]).shape == (V,)


def test_round_trip_every_field(split):
    split_dir, truth = split
    reader = SplitReader(split_dir)
    assert len(reader) == 7 and reader.image_size == (H, W)
    assert (reader.dataset, reader.group, reader.split) == ("synth:MOW", "HO", "train")
    for i in range(7):
        sample = reader[i]
        assert sample["image"].dtype == np.uint8 and sample["vertices"].dtype == np.float32
        assert sample["contacts"].dtype == bool and sample["contacts"].shape == (V,)
        for key in ("image", "contacts", "vertices"):
            assert np.array_equal(sample[key], truth[key][i]), (key, i)
        assert sample["id"] == truth["id"][i]
        assert sample["non_contact"] == (not truth["contacts"][i].any())
        assert (sample["dataset"], sample["group"]) == ("synth:MOW", "HO")
    assert reader[-1]["id"] == "s0006"
    with pytest.raises(IndexError):
        reader[7]
    assert np.array_equal(reader.contacts_matrix(), truth["contacts"])
    assert np.array_equal(reader.non_contact, ~truth["contacts"].any(axis=1))


def test_meta_json_layout(split):
    split_dir, truth = split
    meta = json.loads((split_dir / "shard-00001" / "meta.json").read_text())
    from haco.data.integrity import digests

    assert meta.pop("digests") == digests(split_dir / "shard-00001")  # of the files' bytes
    assert meta == {"format_version": FORMAT_VERSION, "count": 3, "image_size": [H, W],
                    "dataset": "synth:MOW", "split": "train", "group": "HO",
                    "ids": truth["id"][4:],
                    "non_contact": (~truth["contacts"][4:].any(axis=1)).tolist()}
    packed = np.load(split_dir / "shard-00001" / "contacts.npy")
    assert packed.shape == (3, 98) and packed.dtype == np.uint8


def test_get_batch_unordered_and_duplicate_indices(split):
    split_dir, truth = split
    indices = [6, 0, 4, 4, -7, 3, 5]  # crosses shards, repeats, a negative index
    batch = SplitReader(split_dir).get_batch(indices)
    expected = np.array(indices) % 7
    for key in ("image", "contacts", "vertices"):
        assert np.array_equal(batch[key], truth[key][expected]), key
    assert batch["id"] == [truth["id"][i] for i in expected]
    assert np.array_equal(batch["non_contact"], ~truth["contacts"][expected].any(axis=1))
    assert batch["dataset"] == ["synth:MOW"] * 7 and batch["group"] == ["HO"] * 7
    assert batch["contacts"].dtype == bool and batch["image"].shape == (7, H, W, 3)
    with pytest.raises(IndexError):
        SplitReader(split_dir).get_batch([0, 7])


def test_storage_is_memory_mapped(split):
    reader = SplitReader(split[0])
    for shard in reader.shards:
        for array in (shard.images, shard.contacts, shard.vertices):
            assert isinstance(array, np.memmap) and not array.flags.writeable
    assert not isinstance(reader[0]["image"], np.memmap)  # samples are private copies


def test_pickle_reopens_instead_of_copying(split):
    reader = SplitReader(split[0])
    payload = pickle.dumps(reader)
    assert len(payload) < 1000
    again = pickle.loads(payload)
    assert len(again) == 7 and isinstance(again.shards[0].images, np.memmap)


def test_refuses_overwrite_unless_asked(split):
    split_dir, _ = split
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_shard(split_dir, 0, *make_samples(2, seed=5))
    write_shard(split_dir, 0, *make_samples(2, seed=5), overwrite=True)
    assert len(SplitReader(split_dir)) == 5
    assert sorted(p.name for p in split_dir.iterdir()) == ["shard-00000", "shard-00001"]


def test_failed_write_leaves_no_shard(tmp_path, monkeypatch):
    saves, real_save = [], np.save

    def failing_save(path, array):
        saves.append(path)
        if len(saves) == 2:
            raise OSError("disk full")
        real_save(path, array)

    monkeypatch.setattr(shards.np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        write_shard(tmp_path, 0, *make_samples(2, seed=0))
    assert completed_shards(tmp_path) == [] and list(tmp_path.iterdir()) == []


KILLED_WRITER = """
import os, sys
import numpy as np
from haco.data import shards
real_save, calls = np.save, []
def save(path, array):
    calls.append(path)
    if len(calls) == 3:
        os._exit(9)  # killed mid-shard: no except/finally block runs
    real_save(path, array)
np.save = save
rng = np.random.default_rng(0)
shards.write_shard(sys.argv[1], 1, rng.integers(0, 256, (2, 6, 5, 3), dtype=np.uint8),
                   np.zeros((2, 778), bool), np.zeros((2, 778, 3), np.float32),
                   {"dataset": "MOW", "split": "train", "group": "HO", "ids": ["a", "b"]})
"""


def test_killed_writer_then_resume(tmp_path):
    write_shard(tmp_path, 0, *make_samples(3, seed=0))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(KILLED_WRITER), str(tmp_path)],
                          check=False)
    assert done.returncode == 9
    partials = [p.name for p in tmp_path.iterdir() if ".partial-" in p.name]
    assert len(partials) == 1 and partials[0].startswith(".shard-00001.partial-")
    assert completed_shards(tmp_path) == [0]
    assert len(SplitReader(tmp_path)) == 3  # the reader ignores the partial shard
    (tmp_path / ".stats.npz.partial-1").write_bytes(b"junk")  # a killed write_stats
    removed = clean_partials(tmp_path)
    assert sorted(p.name for p in removed) == sorted(partials + [".stats.npz.partial-1"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard-00000"]
    write_shard(tmp_path, 1, *make_samples(2, seed=1, offset=3))  # resume
    assert completed_shards(tmp_path) == [0, 1] and len(SplitReader(tmp_path)) == 5


def test_writer_removes_its_index_leftovers(tmp_path):
    junk = tmp_path / ".shard-00000.partial-99999"
    junk.mkdir()
    (junk / "images.npy").write_bytes(b"half")
    other = tmp_path / ".shard-00001.partial-99999"  # another index: maybe a live writer
    other.mkdir()
    write_shard(tmp_path, 0, *make_samples(2, seed=0))
    assert not junk.exists() and other.exists() and completed_shards(tmp_path) == [0]


def test_version_mismatch(split):
    split_dir, _ = split
    meta_path = split_dir / "shard-00001" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(ShardVersionError, match="another haco version.*haco data synth"):
        SplitReader(split_dir)


def test_shards_must_agree(split):
    split_dir, _ = split
    _, contacts, vertices, meta = make_samples(2, seed=3)
    write_shard(split_dir, 2, np.zeros((2, H + 1, W, 3), np.uint8), contacts, vertices, meta)
    with pytest.raises(ValueError, match="image_size"):
        SplitReader(split_dir)


def test_missing_split(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*haco data synth.*haco data import"):
        SplitReader(tmp_path / "nowhere")
    (tmp_path / ".shard-00000.partial-1").mkdir()
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}.*no complete shard"):
        SplitReader(tmp_path)


@pytest.mark.parametrize("field, value, message", [
    ("images", np.zeros((2, H, W), np.uint8), r"images must have shape \(n, n, n, 3\)"),
    ("images", np.zeros((2, H, W, 3), np.float32), "images must be uint8"),
    ("contacts", np.zeros((2, 777), bool), r"contacts must have shape \(2, 778\)"),
    ("contacts", np.zeros((2, V), np.uint8), "contacts must be bool"),
    ("vertices", np.zeros((3, V, 3), np.float32), r"vertices must have shape \(2, 778, 3\)"),
    ("vertices", np.zeros((2, V, 3)), r"vertices must be float32.*astype\(np.float32\)"),
    ("ids", ["only-one"], "ids must have n=2"),
    ("group", "XX", "group must be one of"),
    ("dataset", None, r"missing \['dataset'\]"),
    ("non_contact", [False, False], "non_contact disagrees"),
])
def test_validation_errors(tmp_path, field, value, message):
    images, contacts, vertices, meta = make_samples(2, seed=0)  # sample 0 has no contact
    arrays = {"images": images, "contacts": contacts, "vertices": vertices}
    if field in arrays:
        arrays[field] = value
    elif value is None:
        del meta[field]
    else:
        meta[field] = value
    with pytest.raises(ValueError, match=message):
        write_shard(tmp_path, 0, arrays["images"], arrays["contacts"], arrays["vertices"], meta)
    assert completed_shards(tmp_path) == []


def test_stats_match_plain_numpy(split):
    split_dir, truth = split
    stats = compute_stats(SplitReader(split_dir))
    c = truth["contacts"]
    ones = c.sum(axis=0)
    assert np.allclose(stats["contact_mean"], c.mean(axis=0))
    assert stats["contact_mean"].dtype == np.float64
    assert np.array_equal(stats["vertex_counts"], [7 - ones, ones])
    assert stats["vertex_counts"].dtype == np.int64
    assert np.array_equal(stats["global_counts"], [(~c).sum(), c.sum()])
    assert stats["num_samples"] == 7
    assert stats["num_non_contact_samples"] == int((~c.any(axis=1)).sum()) == 3
    assert stats["noncontact_ratio"] == pytest.approx((~c).sum() / c.sum())
    assert stats["shard_names"] == ["shard-00000", "shard-00001"]
    assert stats["shard_counts"] == [4, 3]
    write_stats(split_dir, stats)
    loaded = load_stats(split_dir)
    assert loaded.keys() == stats.keys()
    for key, value in stats.items():
        assert np.array_equal(loaded[key], value), key


def test_stats_without_contact(tmp_path):
    write_shard(tmp_path, 0, *make_samples(2, seed=0, non_contact_every=1))
    stats = compute_stats(SplitReader(tmp_path))
    assert stats["noncontact_ratio"] == float("inf")
    assert stats["num_non_contact_samples"] == 2
    write_stats(tmp_path, stats)
    assert load_stats(tmp_path)["noncontact_ratio"] == float("inf")


def test_ensure_stats_caches_until_shards_change(split, monkeypatch):
    split_dir, _ = split
    calls = []
    real = shards.compute_stats
    monkeypatch.setattr(shards, "compute_stats", lambda r: calls.append(1) or real(r))
    with pytest.raises(FileNotFoundError, match="ensure_stats"):
        load_stats(split_dir)
    assert ensure_stats(split_dir)["num_samples"] == 7 and len(calls) == 1
    assert ensure_stats(split_dir)["num_samples"] == 7 and len(calls) == 1  # cached
    write_shard(split_dir, 2, *make_samples(2, seed=2, offset=7))  # a resumed generator
    assert ensure_stats(split_dir)["num_samples"] == 9 and len(calls) == 2
    assert ensure_stats(split_dir)["shard_counts"] == [4, 3, 2] and len(calls) == 2
    write_shard(split_dir, 2, *make_samples(2, seed=9, offset=7), overwrite=True)
    assert not (split_dir / "stats.npz").exists()  # same names and counts, new content
    ensure_stats(split_dir)
    assert len(calls) == 3
    assert not [p for p in os.listdir(split_dir) if "partial" in p]
