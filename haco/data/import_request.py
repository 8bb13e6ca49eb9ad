"""The `haco data import` command, validated: what to import, from where, to where.

Every argument is checked before any work (`make_request`); a wrong one is an
`ImportRequestError` saying what to fix, and nothing is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from haco.data.catalogue import real_dir
from haco.data.integrity import import_report_of
from haco.data.registry import SYNTH_PREFIX, DatasetInfo, get_dataset


class ImportRequestError(ValueError):
    """The command itself is wrong (dataset, split, input...); nothing was done."""


@dataclass(frozen=True)
class ImportRequest:
    """A validated `haco data import` command."""

    dataset: DatasetInfo
    split: str
    input_dir: Path
    dataset_dir: Path       # <data root>/real/<dataset>
    image_size: int         # output images are image_size x image_size
    shard_size: int         # samples per shard
    max_failures: float     # largest tolerated share of skipped records, in [0, 1]
    mano_path: str | None   # official MANO_RIGHT.pkl, for records given as MANO parameters

    @property
    def split_dir(self) -> Path:
        return self.dataset_dir / self.split

    @property
    def report_path(self) -> Path:
        return import_report_of(self.split_dir)

    @property
    def label(self) -> str:
        return f"{self.dataset.name}/{self.split}"


def make_request(cfg) -> ImportRequest:
    """Check the command's arguments before any work; ImportRequestError says what to fix."""
    for key in ("dataset", "input"):
        if OmegaConf.is_missing(cfg, key) or cfg.get(key) is None:
            raise ImportRequestError(f"{key}= is required (e.g. haco data import dataset=MOW "
                                     "split=test input=/path/to/records)")
    dataset = _dataset(str(cfg.dataset), str(cfg.split))
    input_dir = Path(str(cfg.input)).expanduser().resolve()
    if not input_dir.is_dir():
        raise ImportRequestError(f"input {input_dir} is not a directory: point input= at the "
                                 "directory holding one sub-directory per record")
    try:
        max_failures = float(cfg.max_failures)
    except (TypeError, ValueError):
        max_failures = math.nan
    if not 0.0 <= max_failures <= 1.0:
        raise ImportRequestError(f"max_failures must be a share in [0, 1], "
                                 f"got {cfg.max_failures!r}")
    mano_path = cfg.hand.mano_path
    if mano_path is not None and not Path(str(mano_path)).expanduser().is_file():
        raise ImportRequestError(f"hand.mano_path {mano_path} is not a file: download "
                                 "MANO_RIGHT.pkl from https://mano.is.tue.mpg.de or unset it")
    return ImportRequest(
        dataset=dataset, split=str(cfg.split), input_dir=input_dir,
        dataset_dir=real_dir(cfg, dataset.name),
        image_size=int(cfg.data.image_size), shard_size=int(cfg.data.shard_size),
        max_failures=max_failures,
        mano_path=None if mano_path is None else str(Path(str(mano_path)).expanduser()),
    )


def _dataset(name: str, split: str) -> DatasetInfo:
    if name.startswith(SYNTH_PREFIX):
        raise ImportRequestError(f"dataset={name}: import brings in real data; use the plain "
                                 f"name {name.removeprefix(SYNTH_PREFIX)!r}")
    try:
        dataset = get_dataset(name)
    except KeyError as err:
        raise ImportRequestError(err.args[0]) from None
    if split not in dataset.splits:
        raise ImportRequestError(f"{name} has no split {split!r}; its splits: "
                                 f"{', '.join(dataset.splits)}")
    return dataset
