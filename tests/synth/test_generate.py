"""`haco data synth` and `ensure`: deterministic samples, cached shards, resume, and
`haco data stats`."""

import json

import numpy as np
import pytest

from haco.config import load_config
from haco.data import shards
from haco.synth.generate import ensure, generate_sample, synthesize
from haco.synth.layout import split_dir, split_sizes
from haco.synth.twins import get_twin

TWINS = ["MOW", "Decaf"]


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return load_config("data_synth", ["profile=smoke", f"data.root={root}",
                                      f"data.twins=[{','.join(TWINS)}]", "data.workers=2"])


@pytest.fixture(scope="module")
def built(cfg):
    return synthesize(cfg, progress=False)


def test_a_sample_is_a_function_of_its_key():
    twin = get_twin("PROX")
    a = generate_sample(twin, "train", 3, 0, 32, 0.2)
    b = generate_sample(twin, "train", 3, 0, 32, 0.2)
    c = generate_sample(twin, "train", 4, 0, 32, 0.2)
    assert a[0].shape == (32, 32, 3) and a[0].dtype == np.uint8
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_builds_every_split_of_the_selected_twins(cfg, built):
    for name in TWINS:
        for split, n in split_sizes(cfg, get_twin(name)).items():
            reader = shards.SplitReader(split_dir(cfg, f"synth:{name}", split))
            assert len(reader) == n
            assert reader.image_size == (32, 32)
            stats = shards.load_stats(reader.split_dir)
            assert stats["num_samples"] == n
    assert split_sizes(cfg, get_twin("MOW")).keys() == {"train", "val", "test"}


def test_second_run_writes_nothing(cfg, built):
    path = split_dir(cfg, "synth:MOW", "train") / "shard-00000"
    before = path.stat().st_mtime_ns
    synthesize(cfg, progress=False)
    assert path.stat().st_mtime_ns == before


def test_resume_rebuilds_a_lost_shard_identically(cfg, built):
    import shutil

    split = split_dir(cfg, "synth:Decaf", "train")
    original = shards.SplitReader(split).get_batch(np.arange(4))
    shutil.rmtree(split / "shard-00000")
    (split / ".shard-00000.partial-999").mkdir()  # a killed writer's leftovers
    synthesize(cfg, progress=False)
    again = shards.SplitReader(split).get_batch(np.arange(4))
    assert np.array_equal(original["image"], again["image"])
    assert np.array_equal(original["contacts"], again["contacts"])
    assert not list(split.glob(".*partial*"))


def test_stats_command_reports_and_draws(cfg, built, capsys):
    from haco.synth.stats import stats_command

    assert stats_command(cfg) == 0
    out = capsys.readouterr().out
    assert "synth:MOW" in out and "synth:Decaf" in out
    from haco.paths import data_root

    root = data_root(cfg.data.root)
    payload = json.loads((root / "stats.json").read_text())
    rows = {r["twin"]: r for r in payload["twins"]}
    assert rows["synth:MOW"]["target_ratio"] == 1.5
    assert rows["synth:MOW"]["measured_ratio"] > 0
    assert len(rows["synth:Decaf"]["contact_mean"]) == 778
    for figure in ("ratios.png", "heatmaps.png"):
        assert (root / "figures" / figure).read_bytes()[:4] == b"\x89PNG"


def test_the_run_seed_keeps_the_twins_and_the_data_seed_changes_them():
    from haco.synth.layout import synth_dir

    base = synth_dir(load_config("data_synth", ["profile=smoke"]))
    assert synth_dir(load_config("data_synth", ["profile=smoke", "seed=3"])) == base
    assert synth_dir(load_config("data_synth", ["profile=smoke", "data.seed=3"])) != base


def test_ensure_makes_only_what_is_missing(cfg, built):
    split = split_dir(cfg, "synth:MOW", "train")
    before = {p.name: p.stat().st_mtime_ns for p in split.iterdir()}
    assert ensure(cfg, ["MOW"]) == built
    assert {p.name: p.stat().st_mtime_ns for p in split.iterdir()} == before
