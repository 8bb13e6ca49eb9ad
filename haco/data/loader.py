"""Training and test batches from shards: dataset mixing, strides, weights, BCS, workers.

    specs ──► MixedDataset (one index space over all datasets, strided)
          ──► EpochSampler (one epoch's global indices: BCS, pooled or per dataset,
                            or a weighted shuffle)
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

from haco.config import ConfigError
from haco.data.bcs import contact_mean
from haco.data.catalogue import split_dir
from haco.data.registry import get_dataset
from haco.data.sampling import EDGE_RULES, EmptyBinError, balanced_indices
from haco.data.shards import SplitReader
from haco.labels import NUM_HAND_VERTICES

# Salt of the rng that draws weighted (fractional) dataset shares, so that draw never
# shares a stream with the BCS draw or the shuffle of the same seed and epoch.
_POOL_STREAM = 0x706F6F6C
# Salts of the shuffle of a reused draw, of each dataset's own draw and of their merge.
_ORDER_STREAM = 0x6F726472
_DATASET_STREAM = 0x64736574
_MIX_STREAM = 0x6D697821

# `loader.bcs.scope`: one BCS draw over the whole mix (paper) | one per dataset (release).
BCS_SCOPES = ("pooled", "per_dataset")


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


def specs_for(cfg, names, split: str = "train", weights: dict | None = None) -> list[DatasetSpec]:
    """Specs of `names` ("synth:MOW" twins or real names like "MOW") for one split.

    Strides apply to training splits only, and only with `loader.apply_strides`: the
    paper's 5/10/5 strides thin out redundant video frames of the real HOI4D,
    InterHand2.6M and Decaf. A twin's size is already computed from the strided count
    (`haco.synth.layout.split_sizes`), so striding a twin again would shrink it a second
    time. Where each split lives is the catalogue's (haco.data.catalogue.split_dir).
    """
    weights = dict(weights or {})
    unknown = set(weights) - set(names)
    if unknown:
        raise KeyError(f"weights given for {sorted(unknown)}, which are not among {list(names)}")
    specs = []
    for name in names:
        info = get_dataset(name)  # raises, listing the known names, on a typo
        path = split_dir(cfg, name, split)
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
    `shuffle=False` (test): the pool in order. BCS off: the pool, shuffled. BCS on
    (`balanced_indices`, with bins, beta, include_non_contact and edges from `bcs`):

    - scope "pooled" (the paper: BCS over the combined training set): one draw over the
      whole pool's contacts, their mean c̄ taken over the pool (repeats count).
    - scope "per_dataset" (the release: each dataset's loader balances itself): each
      dataset's pool rows drawn apart, scored against that dataset's own mean contact map
      (over all its kept samples, unweighted, non-contact ones included, as the release's
      per-dataset mean file), the draws concatenated and shuffled. Weights still set how
      many rows of each dataset enter its draw (round(w·n), repeats included).

    The epoch's length is what the draw yields: with edges "paper", the participating rows
    (all of the pool, or its contact rows when non-contact ones are left out), so a
    dataset's weighted count sets its share; with edges "release", K·int(mean bin size)
    per draw (one draw pooled, one per dataset), as the release's `balanced_data`, whose
    datasets are then concatenated (`MultipleDatasets(make_same_len=False)`).
    `redraw_every_epoch` false: the draw (and its pool) is made once and reused, only its
    order changes every epoch, as the release's DataLoader(shuffle=True) reorders its one
    balanced list.
    Not reproduced: the release's MOW, PROX and HIC loaders never call its BCS (they give
    every training sample once, HIC only its contact samples); per_dataset balances every
    dataset of the mix.
    """

    def __init__(self, dataset: MixedDataset, seed: int = 0, bcs: dict | None = None,
                 shuffle: bool = True):
        self.dataset, self.seed, self.shuffle = dataset, int(seed), shuffle
        self.bcs = dict(bcs) if bcs is not None and bcs.get("enabled", True) else None
        self.scope = str(self.bcs.get("scope", "pooled")) if self.bcs else "pooled"
        self.edges = str(self.bcs.get("edges", "paper")) if self.bcs else "paper"
        if self.scope not in BCS_SCOPES:
            raise ValueError(f"loader.bcs.scope must be one of {list(BCS_SCOPES)}, "
                             f"got {self.scope!r}")
        if self.edges not in EDGE_RULES:
            raise ValueError(f"loader.bcs.edges must be one of {list(EDGE_RULES)}, "
                             f"got {self.edges!r}")
        self.epoch = 0
        self._fixed_draw: np.ndarray | None = None  # the one draw when not redrawn
        self._last: tuple[int, np.ndarray] | None = None  # (epoch, its indices)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _redraws(self) -> bool:
        return self.bcs is None or bool(self.bcs.get("redraw_every_epoch", True))

    def _pool_key(self) -> int:
        # A BCS draw not redrawn every epoch keeps its epoch-0 pool too.
        return self.epoch if self._redraws() else 0

    def pool(self) -> np.ndarray:
        """Global indices each dataset contributes this epoch, by weight, in order."""
        rng = np.random.default_rng([self.seed, self._pool_key(), _POOL_STREAM])
        parts = []
        for spec, offset, n in zip(self.dataset.specs, self.dataset.offsets, self.dataset.sizes):
            parts.append(offset + _weighted_draw(int(n), spec.weight, rng))
        return np.concatenate(parts).astype(np.int64)

    def indices(self) -> np.ndarray:
        """(L,) int64: this epoch's global indices, in the order the batches take them."""
        if self._last is None or self._last[0] != self.epoch:
            self._last = (self.epoch, self._compute_indices())  # __len__ then iter: one draw
        return self._last[1]

    def _compute_indices(self) -> np.ndarray:
        pool = self.pool()
        if not self.shuffle:
            return pool
        if self.bcs is None:
            return np.random.default_rng([self.seed, self.epoch]).permutation(pool)
        if self._redraws():
            return self._balanced(pool, self.epoch)
        if self._fixed_draw is None:
            self._fixed_draw = self._balanced(pool, None)
        order = np.random.default_rng([self.seed, self.epoch, _ORDER_STREAM])
        return order.permutation(self._fixed_draw)

    def _balanced(self, pool: np.ndarray, epoch: int | None) -> np.ndarray:
        """(L,) global indices of one BCS draw from `pool`; `epoch` None: the one draw.
        An epoch of no sample at all is a ConfigError, never a silent empty epoch."""
        if self.scope == "per_dataset":
            drawn = self._balanced_per_dataset(pool, epoch)
        else:
            contacts = self.dataset.contacts_matrix()
            if not np.array_equal(pool, np.arange(len(self.dataset))):
                contacts = contacts[pool]  # weighted: repeats count in the bins and the mean
            where = f"the pooled training mix ({', '.join(self.dataset.names)})"
            drawn = pool[self._draw(contacts, self.seed, epoch, where)]
        if drawn.size == 0 and pool.size:
            raise ConfigError(
                f"BCS drew no training sample from {', '.join(self.dataset.names)} "
                f"(loader.bcs: scope={self.scope}, edges={self.edges}, include_non_contact="
                f"{self.bcs['include_non_contact']}): with edges=release a dataset with fewer "
                "binned samples than bins yields none, as in the released code; use "
                "loader.bcs.edges=paper, fewer bins, or more data")
        return drawn

    def _balanced_per_dataset(self, pool: np.ndarray, epoch: int | None) -> np.ndarray:
        contacts, offsets = self.dataset.contacts_matrix(), self.dataset.offsets
        which = np.searchsorted(offsets, pool, side="right") - 1  # the pool is in order
        parts = []
        for d, spec in enumerate(self.dataset.specs):
            rows = pool[which == d]
            if rows.size == 0:  # weight 0, or an empty dataset
                continue
            own_mean = contact_mean(contacts[offsets[d]:offsets[d + 1]])
            picked = self._draw(contacts[rows], _dataset_seed(self.seed, d), epoch, spec.name,
                                mean=own_mean)
            parts.append(rows[picked])
        drawn = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        key = [self.seed, _MIX_STREAM] if epoch is None else [self.seed, epoch, _MIX_STREAM]
        return np.random.default_rng(key).permutation(drawn).astype(np.int64)

    def _draw(self, contacts: np.ndarray, seed: int, epoch: int | None, where: str,
              mean: np.ndarray | None = None) -> np.ndarray:
        """Row indices into `contacts` of one `balanced_indices` draw; `where` names the
        rows in the error an empty release bin raises."""
        try:
            return balanced_indices(contacts, bins=int(self.bcs["bins"]),
                                    beta=float(self.bcs["beta"]), seed=seed,
                                    include_non_contact=bool(self.bcs["include_non_contact"]),
                                    epoch=epoch, edges=self.edges, mean=mean)
        except EmptyBinError as err:
            raise EmptyBinError(f"{where}: {err}") from None

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        if self.shuffle and self.bcs is not None:
            return len(self.indices())  # a BCS draw's length depends on its rule and scope
        return len(self.pool())


def _dataset_seed(seed: int, dataset_number: int) -> int:
    """The seed of one dataset's own BCS draw (scope per_dataset): independent streams per
    dataset, so two datasets of equal size never draw the same rows."""
    state = np.random.SeedSequence([seed, dataset_number, _DATASET_STREAM]).generate_state(1)
    return int(state[0])


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
