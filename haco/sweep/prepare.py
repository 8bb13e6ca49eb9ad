"""The data a study's trials read, made ready once before any trial starts: synthetic
twins generated (with a progress bar), real data checked on disk, twin-pretrained
backbones built."""

from __future__ import annotations

from haco.config import ConfigError
from haco.sweep.study import TrialSpec


def prepare_data(todo: list[TrialSpec]) -> None:
    """Every dataset the trials read, generated once (synthetic twins, with a progress
    bar) or checked on disk (real data), before any trial starts."""
    from omegaconf import OmegaConf

    from haco.data.synth import synthesize

    twins = set()
    for spec in todo:
        reads = splits_read(spec.config)
        if spec.config.data.source == "real":
            check_real(spec.config, reads)
        else:
            twins.update(n for names in reads.values() for n in names)
    if twins:
        synthesize(OmegaConf.merge(todo[0].config, {"data": {"twins": sorted(twins)}}),
                   progress=True)
    prepare_pretrained(todo)


def prepare_pretrained(todo: list[TrialSpec]) -> None:
    """The twin-pretrained backbones the trials load (`model.pretrained=twin`), built once
    here with a progress bar rather than inside a trial (haco/pretrain)."""
    from haco.pretrain import TWIN_WEIGHTS, ensure_pretrained
    from haco.pretrain.train import weights_path

    wanted = {}
    for spec in todo:
        if str(spec.config.model.pretrained) == TWIN_WEIGHTS:
            wanted.setdefault(weights_path(spec.config), spec.config)
    for path, cfg in wanted.items():
        if not path.is_file():
            print(f"pretraining the {cfg.model.backbone} backbone on twin images (once; "
                  f"cached as {path})")
        ensure_pretrained(cfg, progress=True)


def splits_read(cfg) -> dict[str, list[str]]:
    """{split: dataset names} one trial reads (init=mean reads its dataset's train split)."""
    from haco.train.data import dataset_names

    reads = {split: dataset_names(cfg, split) for split in ("train", "val", "test")}
    if cfg.model.init == "mean":
        reads["train"] = [*reads["train"], str(cfg.model.init_dataset)]
    return reads


def check_real(cfg, reads: dict[str, list[str]]) -> None:
    from haco.train.data import split_dirs

    for split, names in reads.items():
        try:
            split_dirs(cfg, names, split)
        except FileNotFoundError as err:
            raise ConfigError(str(err)) from None
