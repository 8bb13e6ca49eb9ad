"""The loader: mixing, strides, weights, BCS epochs, test order, workers."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from haco.config import ConfigError, load_config
from haco.data import shards
from haco.data.bcs import assign_bins, contact_balance_scores, contact_mean, log_bin_edges
from haco.data.loader import DatasetSpec, EpochSampler, MixedDataset, build_loader, specs_for
from haco.data.sampling import EmptyBinError, bin_report
from haco.synth.generate import synthesize
from haco.synth.layout import split_dir

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
    # Not redrawn (the release): one draw, reordered every epoch as its shuffling DataLoader.
    once_3, once_4 = draw(0, 3, redraw_every_epoch=False), draw(0, 4, redraw_every_epoch=False)
    assert sorted(once_3) == sorted(once_4) and not np.array_equal(once_3, once_4)
    assert sorted(once_3) == sorted(draw(0, 0, redraw_every_epoch=False))
    assert sorted(draw(0, 3)) != sorted(draw(0, 4))  # redrawn: other samples, not just order
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


# --- the release's BCS: per dataset, its binning, one draw ---------------------------------

class ContactsOnly:
    """What EpochSampler reads of a MixedDataset, over given contacts (no shards needed)."""

    def __init__(self, parts: dict, weights: dict | None = None):
        weights = weights or {}
        self.specs = [DatasetSpec(n, Path("."), weight=weights.get(n, 1.0)) for n in parts]
        self.sizes = np.array([len(c) for c in parts.values()], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        self._contacts = np.concatenate(list(parts.values()))

    @property
    def names(self):
        return [s.name for s in self.specs]

    def __len__(self):
        return int(self.offsets[-1])

    def contacts_matrix(self):
        return self._contacts


def two_datasets() -> dict:
    """A: contact spread evenly (3 rows without any); B: contact mostly on the last 10
    vertices (1 row without). Their means differ, and so do their binnings under either
    mean; under the release's rule neither has an empty bin."""
    a = np.random.default_rng(7).random((60, 20)) < 0.15
    b = np.random.default_rng(0).random((80, 20)) < np.r_[np.full(10, 0.05), np.full(10, 0.4)]
    return {"A": a, "B": b}


def release_folds(contacts, mean):
    """The release's per-dataset BCS up to its draw: folds (row indices of `contacts`) of its
    contact rows, scored with `mean` saved in float32, and the quota int(mean fold size)."""
    mean = np.asarray(mean).astype(np.float32)
    rows = np.flatnonzero(contacts.any(axis=1))  # it skips samples without contact
    c = contacts[rows].astype(np.int64)
    scores = np.array([np.mean(r * (1 - mean)) - np.mean(r * mean) for r in c], np.float32)
    lo, hi = scores.min(), scores.max()
    edges = lo + (hi - lo) * np.log1p(np.linspace(1e-5, 1, 6) * 5) / np.log1p(5)
    folds = [rows[(scores >= np.float32(edges[i])) & (scores < np.float32(edges[i + 1]))]
             for i in range(5)]
    return folds, int(np.mean([len(f) for f in folds]))


def release_bcs(**changes) -> dict:
    return {"enabled": True, "bins": 5, "beta": 5.0, "include_non_contact": False,
            "redraw_every_epoch": False, "scope": "per_dataset", "edges": "release", **changes}


def test_per_dataset_release_draw_matches_the_release():
    parts = two_datasets()
    dataset = ContactsOnly(parts)
    indices = EpochSampler(dataset, seed=0, bcs=release_bcs()).indices()
    total = 0
    for name, offset in zip(parts, dataset.offsets):
        contacts = parts[name]
        local = indices[(indices >= offset) & (indices < offset + len(contacts))] - offset
        folds, quota = release_folds(contacts, contacts.mean(axis=0))  # its own mean
        assert len(local) == 5 * quota
        assert [int(np.isin(local, f).sum()) for f in folds] == [quota] * 5
        assert contacts[local].any(axis=1).all()
        # the pooled mean would bin it otherwise: the counts above pin the dataset's own
        pooled, _ = release_folds(contacts, dataset.contacts_matrix().mean(axis=0))
        assert [int(np.isin(local, f).sum()) for f in pooled] != [quota] * 5
        total += 5 * quota
    assert len(indices) == total
    which = (indices >= dataset.offsets[1]).astype(int)
    assert np.count_nonzero(np.diff(which)) > 2  # the datasets are shuffled together


def test_per_dataset_scope_bins_each_dataset_with_its_own_mean():
    parts = two_datasets()
    dataset = ContactsOnly(parts)
    bcs = release_bcs(edges="paper", include_non_contact=True, redraw_every_epoch=True)
    indices = EpochSampler(dataset, seed=1, bcs=bcs).indices()
    pooled_mean = contact_mean(dataset.contacts_matrix())
    for name, offset in zip(parts, dataset.offsets):
        contacts = parts[name]
        local = indices[(indices >= offset) & (indices < offset + len(contacts))] - offset
        assert len(local) == len(contacts)  # paper edges: every row's worth, per dataset
        own = drawn_per_bin(contacts, local, contact_mean(contacts))
        assert own.max() - own.min() <= 1  # equal, up to the division's remainder
        pooled = drawn_per_bin(contacts, local, pooled_mean)
        assert pooled.max() - pooled.min() > 1  # not what a pooled mean would balance


def drawn_per_bin(contacts, drawn, mean):
    """How many of the `drawn` rows fall in each non-empty paper bin of `contacts` scored
    with `mean`."""
    scores = contact_balance_scores(contacts, mean)
    bins = assign_bins(scores, log_bin_edges(scores.min(), scores.max(), 5, 5.0))
    sizes = np.bincount(bins, minlength=5)
    return np.bincount(bins[drawn], minlength=5)[sizes > 0]


def test_per_dataset_weights_set_each_datasets_rows_not_its_mean():
    parts = two_datasets()
    bcs = release_bcs(edges="paper", include_non_contact=True, redraw_every_epoch=True)
    dataset = ContactsOnly(parts, weights={"A": 2.0})
    indices = EpochSampler(dataset, seed=0, bcs=bcs).indices()
    in_a = indices < dataset.offsets[1]
    assert in_a.sum() == 2 * len(parts["A"]) and (~in_a).sum() == len(parts["B"])
    # weight 2 repeats every row of A: the mean, and so the bins, stay A's own
    drawn = drawn_per_bin(parts["A"], indices[in_a], contact_mean(parts["A"]))
    assert drawn.max() - drawn.min() <= 1


def test_per_dataset_release_draw_is_made_once_and_reordered():
    dataset = ContactsOnly(two_datasets())
    sampler = EpochSampler(dataset, seed=0, bcs=release_bcs())
    first = sampler.indices().copy()
    sampler.set_epoch(1)
    assert len(sampler) == len(first)
    assert sorted(sampler.indices()) == sorted(first)
    assert not np.array_equal(sampler.indices(), first)
    again = EpochSampler(dataset, seed=0, bcs=release_bcs(redraw_every_epoch=True))
    again.set_epoch(1)
    assert sorted(again.indices()) != sorted(first)


def test_pooled_release_edges_draw_k_times_int_mean_bin_size():
    parts = two_datasets()
    dataset = ContactsOnly(parts)
    indices = EpochSampler(dataset, seed=0, bcs=release_bcs(scope="pooled")).indices()
    folds, quota = release_folds(dataset.contacts_matrix(),
                                 dataset.contacts_matrix().mean(axis=0))
    assert len(indices) == 5 * quota
    assert [int(np.isin(indices, f).sum()) for f in folds] == [quota] * 5


def test_a_release_draw_of_nothing_is_an_error_naming_the_fix(cfg):
    # The smoke twins are too small for the release's binning: per dataset, fewer binned
    # samples than bins draw nothing (the release's int(mean size) = 0), and an epoch of
    # nothing is an error; pooled, some bin is empty.
    loader, _ = build_loader(with_(cfg, loader={"bcs": release_bcs()}), NAMES, workers=0)
    with pytest.raises(ConfigError, match=r"BCS drew no training sample from synth:MOW, "
                                          r"synth:HIC .* use loader.bcs.edges=paper"):
        len(loader)
    pooled = with_(cfg, loader={"bcs": release_bcs(scope="pooled")})
    with pytest.raises(ConfigError, match=r"scope=pooled, edges=release"):
        len(build_loader(pooled, NAMES, workers=0)[0])


def test_an_empty_release_bin_in_a_dataset_is_named():
    """Bins [20, 0, 0, 3, 0] with quota int(23 / 5) = 4: the release crashes; ours names
    the dataset (scope per_dataset) or the pooled mix."""
    skewed = np.zeros((64, 20), bool)
    skewed[:40, 0] = True
    skewed[40:60, 1] = True
    skewed[60:63, 2:9] = True
    skewed[63, 2:10] = True
    dataset = ContactsOnly({"A": skewed})
    with pytest.raises(EmptyBinError, match=r"^A: BCS with loader.bcs.edges=release: score bin"):
        EpochSampler(dataset, bcs=release_bcs()).indices()
    with pytest.raises(EmptyBinError, match=r"^the pooled training mix \(A\): "):
        EpochSampler(dataset, bcs=release_bcs(scope="pooled")).indices()


def test_unknown_scope_or_edges_are_refused():
    dataset = ContactsOnly(two_datasets())
    with pytest.raises(ValueError, match="scope"):
        EpochSampler(dataset, bcs=release_bcs(scope="per-dataset"))
    with pytest.raises(ValueError, match="edges"):
        EpochSampler(dataset, bcs=release_bcs(edges="released"))


def test_fidelity_release_reaches_the_sampler(cfg):
    release = load_config("config", ["profile=smoke", f"data.root={cfg.data.root}",
                                     "fidelity=release"])
    loader, _ = build_loader(release, NAMES, workers=0)
    epochs = loader.sampler.epochs
    assert (epochs.scope, epochs.edges) == ("per_dataset", "release")
    assert epochs.bcs["include_non_contact"] is False
    assert epochs.bcs["redraw_every_epoch"] is False
    paper, _ = build_loader(cfg, NAMES, workers=0)
    assert (paper.sampler.epochs.scope, paper.sampler.epochs.edges) == ("pooled", "paper")
