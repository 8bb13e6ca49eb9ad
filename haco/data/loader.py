"""Training and test batches from shards: dataset mixing, strides, weights, BCS, workers.

    specs ──► MixedDataset (one index space over all datasets, strided)
          ──► EpochSampler (one epoch's global indices: BCS or a weighted shuffle)
          ──► BatchSampler (cuts them into batches, in the main process)
          ──► DataLoader(batch_size=None) ──► MixedDataset[batch indices] in a worker

A DataLoader item is a whole batch: `MixedDataset.__getitem__` takes the batch's global
indices and reads each dataset once (`SplitReader.get_batch`, sorted, sequential pages)
instead of once per sample; that is what makes the loader fast. The sampler runs in the
main process, so `set_epoch` reaches persistent workers (a dataset copy held by a worker
would not see a new epoch's draw).

Augmentation is not done here: it runs batched on the training step's device
(`haco.data.augment.augment`), where a GPU does it for free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from haco.data.registry import SYNTH_PREFIX, get_dataset
from haco.data.sampling import balanced_indices
from haco.data.shards import SplitReader
from haco.labels import NUM_HAND_VERTICES

# Salt of the rng that draws weighted (fractional) dataset shares, so that draw never
# shares a stream with the BCS draw or the shuffle of the same seed and epoch.
_POOL_STREAM = 0x706F6F6C


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset split in a mix."""

    name: str             # e.g. "synth:MOW" or "MOW"; what batches report as `dataset`
    split_dir: Path       # the split's shard directory
    stride: int = 1       # keep every n-th sample (video redundancy; training only)
    weight: float = 1.0   # an epoch draws round(weight x strided length) of its samples

    def __post_init__(self):
        if not isinstance(self.stride, int) or self.stride < 1:
            raise ValueError(f"{self.name}: stride must be an int >= 1, got {self.stride!r}")
        if not self.weight >= 0:
            raise ValueError(f"{self.name}: weight must be >= 0, got {self.weight!r}")


# ---------------------------------------------------------------------------- specs


def real_split_dir(cfg, name: str, split: str) -> Path:
    """<data root>/real/<dataset>/<split>: where `haco data import` writes a real split
    (`haco.data.importer.make_request`)."""
    from haco.paths import data_root

    return data_root(cfg.data.root) / "real" / get_dataset(name).name / split


def specs_for(cfg, names, split: str = "train", weights: dict | None = None) -> list[DatasetSpec]:
    """Specs of `names` ("synth:MOW" twins or real names like "MOW") for one split.

    Strides apply to training splits only, and only with `loader.apply_strides`: the
    paper's 5/10/5 strides thin out redundant video frames of the real HOI4D,
    InterHand2.6M and Decaf. A twin's size is already computed from the strided count
    (`synth.split_sizes`), so striding a twin again would shrink it a second time.
    """
    from haco.data.synth import split_dir as synth_split_dir

    weights = dict(weights or {})
    unknown = set(weights) - set(names)
    if unknown:
        raise KeyError(f"weights given for {sorted(unknown)}, which are not among {list(names)}")
    specs = []
    for name in names:
        info = get_dataset(name)  # raises, listing the known names, on a typo
        is_twin = name.startswith(SYNTH_PREFIX)
        path = synth_split_dir(cfg, name, split) if is_twin else real_split_dir(cfg, name, split)
        use_stride = split == "train" and bool(cfg.loader.apply_strides)
        specs.append(DatasetSpec(name, path, info.train_stride if use_stride else 1,
                                 float(weights.get(name, 1.0))))
    return specs


# ---------------------------------------------------------------------------- the mix


class MixedDataset(torch.utils.data.Dataset):
    """Datasets concatenated into one global index space, each strided.

    Global index i is the i-th kept sample; `dataset[indices]` returns a whole batch.
    """

    def __init__(self, specs: list[DatasetSpec]):
        if not specs:
            raise ValueError("MixedDataset needs at least one DatasetSpec")
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"a dataset appears twice in the mix: {names}; use `weight` to "
                             "draw one more often")
        self.specs = list(specs)
        self.readers = [SplitReader(s.split_dir) for s in self.specs]
        self._check_image_sizes()
        self.image_size = self.readers[0].image_size
        # sizes[d]: kept samples of dataset d; offsets[d]: global index of its first one
        self.sizes = np.array([len(range(0, len(r), s.stride))
                               for r, s in zip(self.readers, self.specs)], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        self._contacts = None  # cached contacts_matrix()

    def _check_image_sizes(self) -> None:
        sizes = {s.name: r.image_size for s, r in zip(self.specs, self.readers)}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"datasets in one mix must share an image size, got {sizes}; "
                             "regenerate or re-import them at one size (data.image_size)")

    # The readers pickle as paths; the cached contacts matrix would be copied, so drop it.
    def __getstate__(self) -> dict:
        return {**self.__dict__, "_contacts": None}

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __repr__(self) -> str:
        parts = ", ".join(f"{s.name}: {n}" for s, n in zip(self.specs, self.sizes))
        return f"MixedDataset({len(self)} samples; {parts})"

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def locate(self, indices) -> tuple[np.ndarray, np.ndarray]:
        """(dataset number, index into that dataset's reader) of each global index."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        bad = (indices < 0) | (indices >= len(self))
        if bad.any():
            raise IndexError(f"global index {indices[bad][0]} out of range for {len(self)}")
        which = np.searchsorted(self.offsets, indices, side="right") - 1
        strides = np.array([s.stride for s in self.specs], dtype=np.int64)
        return which, (indices - self.offsets[which]) * strides[which]

    def dataset_of(self, i: int) -> str:
        """Name of the dataset global index `i` belongs to."""
        return self.specs[int(self.locate([i])[0][0])].name

    def contacts_matrix(self) -> np.ndarray:
        """(len, 778) bool contact labels of the kept samples, in global index order."""
        if self._contacts is None:
            self._contacts = np.concatenate([r.contacts_matrix()[::s.stride]
                                             for r, s in zip(self.readers, self.specs)])
        return self._contacts

    def __getitem__(self, indices) -> dict:
        """The batch at `indices` (global, any order, repeats allowed).

        image (B, 3, H, W) float32 in [0, 1]; contacts (B, 778) float32; non_contact (B,)
        bool; index (B,) int64 global indices; dataset: list of B names.
        """
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        which, local = self.locate(indices)
        b, (h, w) = len(indices), self.image_size
        image = np.empty((b, h, w, 3), np.uint8)
        contacts = np.empty((b, NUM_HAND_VERTICES), bool)
        non_contact = np.empty(b, bool)
        for d in np.unique(which):  # one read per dataset in the batch
            rows = np.flatnonzero(which == d)
            part = self.readers[d].get_batch(local[rows])
            image[rows], contacts[rows] = part["image"], part["contacts"]
            non_contact[rows] = part["non_contact"]
        return {
            # HWC uint8 -> CHW float: permute is a view, .float() makes it contiguous
            "image": torch.from_numpy(image).permute(0, 3, 1, 2).float().div_(255),
            "contacts": torch.from_numpy(contacts).float(),
            "non_contact": torch.from_numpy(non_contact),
            "index": torch.from_numpy(indices),
            "dataset": [self.specs[d].name for d in which],
        }


# ---------------------------------------------------------------------------- sampling


class EpochSampler:
    """The global indices of one epoch, deterministic in (seed, epoch).

    The pool: q = round(w·n) draws from each dataset (w: its weight, n: its kept samples),
    every sample q // n times and a random subset of q mod n of them once more. Repeats
    are spread evenly rather than drawn i.i.d. with replacement: weight 2 means every
    sample twice, weight 0.5 a random half without repeats.
    BCS on: `balanced_indices` over the pool's contacts, i.e. over the combined training
    set as in the paper (bins, beta, include_non_contact from config). BCS off: the pool,
    shuffled. `shuffle=False` (test): the pool in order.
    """

    def __init__(self, dataset: MixedDataset, seed: int = 0, bcs: dict | None = None,
                 shuffle: bool = True):
        self.dataset, self.seed, self.shuffle = dataset, int(seed), shuffle
        self.bcs = dict(bcs) if bcs is not None and bcs.get("enabled", True) else None
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _pool_key(self) -> int:
        # A BCS draw not redrawn every epoch keeps its epoch-0 pool too.
        if self.bcs is not None and not self.bcs.get("redraw_every_epoch", True):
            return 0
        return self.epoch

    def pool(self) -> np.ndarray:
        """Global indices each dataset contributes this epoch, by weight, in order."""
        rng = np.random.default_rng([self.seed, self._pool_key(), _POOL_STREAM])
        parts = []
        for spec, offset, n in zip(self.dataset.specs, self.dataset.offsets, self.dataset.sizes):
            parts.append(offset + _weighted_draw(int(n), spec.weight, rng))
        return np.concatenate(parts).astype(np.int64)

    def indices(self) -> np.ndarray:
        """This epoch's global indices, in the order the batches take them."""
        pool = self.pool()
        if not self.shuffle:
            return pool
        if self.bcs is None:
            return np.random.default_rng([self.seed, self.epoch]).permutation(pool)
        contacts = self.dataset.contacts_matrix()
        if not np.array_equal(pool, np.arange(len(self.dataset))):
            contacts = contacts[pool]  # weighted: repeats count in the bins and the mean
        epoch = self.epoch if self.bcs.get("redraw_every_epoch", True) else None
        drawn = balanced_indices(contacts, bins=int(self.bcs["bins"]),
                                 beta=float(self.bcs["beta"]), seed=self.seed,
                                 include_non_contact=bool(self.bcs["include_non_contact"]),
                                 epoch=epoch)
        return pool[drawn]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        pool = self.pool()  # cheap; BCS keeps its length unless non-contact rows drop out
        if self.shuffle and self.bcs is not None and not self.bcs["include_non_contact"]:
            return int(self.dataset.contacts_matrix()[pool].any(axis=1).sum())
        return len(pool)


def _weighted_draw(n: int, weight: float, rng: np.random.Generator) -> np.ndarray:
    """round(weight·n) indices of range(n): each ⌊q/n⌋ times, then a random rest once more."""
    quota = round(weight * n)
    if n == 0 or quota == 0:
        return np.zeros(0, dtype=np.int64)
    full, rest = divmod(quota, n)
    extra = np.sort(rng.permutation(n)[:rest]) if rest else np.zeros(0, dtype=np.int64)
    return np.concatenate([np.tile(np.arange(n), full), extra]).astype(np.int64)


class BatchSampler(torch.utils.data.Sampler):
    """An epoch's indices cut into batches (arrays), drawn afresh on every `iter`."""

    def __init__(self, epochs: EpochSampler, batch_size: int, drop_last: bool):
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self.epochs, self.batch_size, self.drop_last = epochs, int(batch_size), drop_last

    def set_epoch(self, epoch: int) -> None:
        self.epochs.set_epoch(epoch)

    def _cut(self, n: int) -> int:
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        order = self.epochs.indices()
        for k in range(self._cut(len(order))):
            yield order[k * self.batch_size:(k + 1) * self.batch_size]

    def __len__(self) -> int:
        return self._cut(len(self.epochs))


# ---------------------------------------------------------------------------- the loader


def build_loader(cfg, names, split: str = "train", train: bool = True, epoch: int = 0,
                 workers: int | None = None):
    """(DataLoader, MixedDataset) over `names` (dataset names or DatasetSpecs).

    train=True: BCS per `loader.bcs`, full batches only (a last batch of one would break
    batch statistics). train=False: every sample once, in order, the last batch partial.
    Call `loader.sampler.set_epoch(e)` before each epoch; augmentation is the training
    step's job (`haco.data.augment.augment`). `workers` overrides `loader.workers`.
    """
    names = list(names)
    given = [isinstance(n, DatasetSpec) for n in names]
    if any(given) and not all(given):
        raise TypeError("pass either dataset names or DatasetSpecs to build_loader, not both")
    specs = names if all(given) else specs_for(cfg, [str(n) for n in names], split)
    if not train:  # evaluation sees every sample exactly once
        specs = [DatasetSpec(s.name, s.split_dir) for s in specs]
    dataset = MixedDataset(specs)
    bcs = dict(cfg.loader.bcs) if train else None
    epochs = EpochSampler(dataset, seed=int(cfg.seed), bcs=bcs, shuffle=train)
    epochs.set_epoch(epoch)
    sampler = BatchSampler(epochs, cfg.loader.batch_size, drop_last=train)
    workers = int(cfg.loader.workers if workers is None else workers)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=None, sampler=sampler, num_workers=workers,
        pin_memory=torch.cuda.is_available(), persistent_workers=workers > 0,
        prefetch_factor=int(cfg.loader.prefetch_factor) if workers > 0 else None)
    return loader, dataset
