"""The loader: mixing, strides, weights, BCS epochs, test order, workers."""

from collections import Counter

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from haco.config import load_config
from haco.data import shards
from haco.data.loader import DatasetSpec, EpochSampler, MixedDataset, build_loader, specs_for
from haco.data.sampling import assign_bins, bin_report, contact_balance_scores
from haco.data.synth import split_dir, synthesize

NAMES = ["synth:MOW", "synth:HIC"]


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    cfg = load_config("config", ["profile=smoke", f"data.root={root}", "data.twins=[MOW,HIC]",
                                 "data.workers=2", "loader.batch_size=4"])
    synthesize(cfg, progress=False)
    return cfg


def with_(cfg, **changes):
    return OmegaConf.merge(cfg, OmegaConf.create(changes))


def reader(cfg, name, split="train"):
    return shards.SplitReader(split_dir(cfg, name, split))


def spec(cfg, name, **kw):
    return DatasetSpec(name, split_dir(cfg, name, "train"), **kw)


def counts_by_dataset(dataset, indices):
    return Counter(dataset.dataset_of(i) for i in indices)


def bcs_cfg(cfg, **changes):
    return {**OmegaConf.to_container(cfg.loader.bcs), **changes}


def test_an_epoch_covers_both_datasets(cfg):
    loader, dataset = build_loader(cfg, NAMES, workers=0)
    assert len(dataset) == len(reader(cfg, "synth:MOW")) + len(reader(cfg, "synth:HIC"))
    seen = Counter(name for batch in loader for name in batch["dataset"])
    assert set(seen) == set(NAMES)
    assert dataset.dataset_of(0) == "synth:MOW" and dataset.dataset_of(len(dataset) - 1) == NAMES[1]


def test_strides_keep_every_nth_sample(cfg):
    n = len(reader(cfg, "synth:HIC"))
    dataset = MixedDataset([spec(cfg, "synth:MOW"), spec(cfg, "synth:HIC", stride=2)])
    assert dataset.sizes.tolist() == [len(reader(cfg, "synth:MOW")), len(range(0, n, 2))]
    full = reader(cfg, "synth:HIC").contacts_matrix()
    mow = dataset.sizes[0]
    assert np.array_equal(dataset.contacts_matrix()[mow:], full[::2])
    batch = dataset[[mow + 1]]  # second kept HIC sample = HIC sample 2
    expected = reader(cfg, "synth:HIC").get_batch([2])["contacts"]
    assert np.array_equal(batch["contacts"].numpy().astype(bool), expected)


@pytest.mark.parametrize("weight", [0.5, 2.0, 2.5])
def test_weights_scale_a_datasets_share_of_the_epoch(cfg, weight):
    dataset = MixedDataset([spec(cfg, "synth:MOW", weight=weight), spec(cfg, "synth:HIC")])
    indices = EpochSampler(dataset, seed=0, bcs=None).indices()
    counts = counts_by_dataset(dataset, indices)
    n_mow, n_hic = dataset.sizes
    assert counts == {"synth:MOW": round(weight * n_mow), "synth:HIC": n_hic}
    repeats = np.bincount(indices[indices < n_mow], minlength=n_mow)
    assert repeats.min() == int(weight) and repeats.max() == int(np.ceil(weight))


def test_specs_apply_registry_strides_only_when_asked(cfg):
    names = ["synth:Decaf", "synth:MOW", "InterHand2.6M"]
    assert [s.stride for s in specs_for(cfg, names)] == [1, 1, 1]  # twins: already sized
    strided = with_(cfg, loader={"apply_strides": True})
    assert [s.stride for s in specs_for(strided, names)] == [5, 1, 10]
    assert [s.stride for s in specs_for(strided, names, "test")] == [1, 1, 1]
    assert specs_for(cfg, ["synth:MOW"], weights={"synth:MOW": 2})[0].weight == 2.0
    with pytest.raises(KeyError, match="known"):
        specs_for(cfg, ["synth:NoSuch"])


def test_test_loader_yields_every_sample_once_in_order(cfg):
    loader, dataset = build_loader(cfg, NAMES, split="test", train=False, workers=0)
    batches = list(loader)
    assert torch.equal(torch.cat([b["index"] for b in batches]), torch.arange(len(dataset)))
    images = torch.cat([b["image"] for b in batches])
    contacts = torch.cat([b["contacts"] for b in batches])
    non_contact = torch.cat([b["non_contact"] for b in batches])
    names = [n for b in batches for n in b["dataset"]]
    start = 0
    for name in NAMES:
        split = reader(cfg, name, "test")
        expected = split.get_batch(np.arange(len(split)))
        stop = start + len(split)
        pixels = (images[start:stop] * 255).round().to(torch.uint8).permute(0, 2, 3, 1)
        assert np.array_equal(pixels.numpy(), expected["image"])
        assert np.array_equal(contacts[start:stop].numpy().astype(bool), expected["contacts"])
        assert np.array_equal(non_contact[start:stop].numpy(), expected["non_contact"])
        assert names[start:stop] == [name] * len(split)
        start = stop
    assert start == len(dataset)


def test_batch_shapes_and_dtypes(cfg):
    loader, _ = build_loader(cfg, NAMES, workers=0)
    batch = next(iter(loader))
    b, size = cfg.loader.batch_size, cfg.data.image_size
    assert batch["image"].shape == (b, 3, size, size) and batch["image"].dtype == torch.float32
    assert 0 <= batch["image"].min() and batch["image"].max() <= 1
    assert batch["contacts"].shape == (b, 778) and batch["contacts"].dtype == torch.float32
    assert batch["non_contact"].shape == (b,) and batch["non_contact"].dtype == torch.bool
    assert len(batch["dataset"]) == b
    assert torch.equal(batch["non_contact"], batch["contacts"].sum(dim=1) == 0)
    total = sum(len(reader(cfg, n)) for n in NAMES)
    assert len(loader) == total // b  # training drops the partial batch


@pytest.mark.parametrize("include_non_contact", [True, False])
def test_bcs_draws_every_bin_equally(cfg, include_non_contact):
    dataset = MixedDataset([spec(cfg, n) for n in NAMES])
    bcs = bcs_cfg(cfg, include_non_contact=include_non_contact)
    indices = EpochSampler(dataset, seed=1, bcs=bcs).indices()
    contacts = dataset.contacts_matrix()
    report = bin_report(contacts, bcs["bins"], bcs["beta"], include_non_contact)
    assert report.nonempty_bins >= 2  # else equal counts would be trivial
    bins = assign_bins(contact_balance_scores(contacts)[indices], report.edges)
    drawn = np.bincount(bins, minlength=bcs["bins"])[report.counts > 0]
    assert drawn.max() - drawn.min() <= 1  # equal, up to the remainder of the division
    assert len(indices) == report.num_participating
    if not include_non_contact:
        assert contacts[indices].any(axis=1).all()


def test_epochs_are_deterministic_and_redrawn(cfg):
    dataset = MixedDataset([spec(cfg, n) for n in NAMES])

    def draw(seed, epoch, **changes):
        sampler = EpochSampler(dataset, seed=seed, bcs=bcs_cfg(cfg, **changes))
        sampler.set_epoch(epoch)
        return sampler.indices()

    assert np.array_equal(draw(0, 3), draw(0, 3))
    assert not np.array_equal(draw(0, 3), draw(0, 4))
    assert not np.array_equal(draw(0, 3), draw(1, 3))
    assert np.array_equal(draw(0, 3, redraw_every_epoch=False),
                          draw(0, 4, redraw_every_epoch=False))
    off = EpochSampler(dataset, seed=0, bcs=None)
    first = off.indices()
    off.set_epoch(1)
    assert sorted(first) == sorted(off.indices()) and not np.array_equal(first, off.indices())


def test_set_epoch_reaches_the_loader(cfg):
    loader, _ = build_loader(cfg, NAMES, workers=0)
    first = [b["index"] for b in loader]
    loader.sampler.set_epoch(1)
    second = [b["index"] for b in loader]
    assert not all(torch.equal(a, b) for a, b in zip(first, second))


def test_workers_give_the_same_batches(cfg):
    def epoch(workers):
        loader, _ = build_loader(cfg, NAMES, epoch=2, workers=workers)
        return list(loader)

    alone, pooled = epoch(0), epoch(2)
    assert len(alone) == len(pooled) > 0
    for a, b in zip(alone, pooled):
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["contacts"], b["contacts"])
        assert torch.equal(a["index"], b["index"]) and a["dataset"] == b["dataset"]


def test_mixing_different_image_sizes_is_refused(cfg, tmp_path):
    other = tmp_path / "big" / "train"
    n = 2
    shards.write_shard(other, 0, np.zeros((n, 8, 8, 3), np.uint8), np.zeros((n, 778), bool),
                       np.zeros((n, 778, 3), np.float32),
                       {"dataset": "X", "split": "train", "group": "HO", "ids": ["a", "b"]})
    with pytest.raises(ValueError, match="image size"):
        MixedDataset([spec(cfg, "synth:MOW"), DatasetSpec("X", other)])
