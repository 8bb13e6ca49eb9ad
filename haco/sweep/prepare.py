"""The data a study's trials read, made ready once before any trial starts: synthetic
twins generated (with a progress bar), real data checked on disk, twin-pretrained
backbones built. Which splits a trial reads is the catalogue's (haco/data/catalogue.py)."""

from __future__ import annotations

from pathlib import Path

from haco import disk
from haco.config import ConfigError
from haco.data.catalogue import MissingSplitError, check, reads, trial_splits, twins_read
from haco.provenance import split_digest
from haco.sweep.study import TrialSpec
from haco.synth import generate
from haco.train.checkpoint import CHECKPOINT_KEY, checkpoint_bytes


def prepare_data(todo: list[TrialSpec]) -> None:
    """Every dataset the trials read, generated once (synthetic twins, with a progress
    bar) or checked on disk (real data), before any trial starts."""
    for spec in todo:
        if spec.config.data.source == "real":
            check_real(spec.config)
    prepare_twins(todo)
    prepare_digests(todo)
    prepare_pretrained(todo)


def prepare_digests(specs: list[TrialSpec]) -> None:
    """The content digest of every split the trials read (their provenance), computed
    here once and cached beside each split, rather than by the first trial of each."""
    dirs = {d for spec in specs for role in vars(trial_splits(spec.config)).values()
            for d in role.values()}
    for split_dir in sorted(dirs):
        split_digest(split_dir)


def prepare_twins(specs: list[TrialSpec]) -> None:
    """The twins the trials of `specs` read, generated once with a progress bar: the
    launch's one explicit call to the generator (a trial's own call then finds them)."""
    reading = [spec.config for spec in specs if twins_read(spec.config)]
    names = sorted({name for cfg in reading for name in twins_read(cfg)})
    if names:
        generate.ensure(reading[0], names, progress=True)


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


def check_real(cfg) -> None:
    """A ConfigError naming every real split a trial of `cfg` reads that is not imported,
    and the `haco data import` command that imports it."""
    try:
        check(cfg, reads(cfg))
    except MissingSplitError as err:
        raise ConfigError(str(err)) from None


# ---------------------------------------------------------------------------- disk space


def disk_needs(data_specs: list[TrialSpec], trial_specs: list[TrialSpec], trials: int,
               concurrent: int) -> list[disk.Need]:
    """What the launch will write: the missing twins and pretraining sets of `data_specs`,
    and a checkpoint per trial (`trials` of the models of `trial_specs`; `concurrent` more,
    as each new checkpoint is written beside the previous one before replacing it)."""
    needs = []
    reading = [spec.config for spec in data_specs if twins_read(spec.config)]
    names = sorted({name for cfg in reading for name in twins_read(cfg)})
    if names:
        root, count = generate.pending_bytes(reading[0], names)
        needs.append(disk.Need("twins", root, count))
    needs += pretraining_needs(data_specs)
    if trial_specs and trials:
        largest = max(checkpoint_bytes(spec.config) for spec in trial_specs)
        out = Path(trial_specs[0].config.train.out_dir).parent
        needs.append(disk.Need(f"{trials} checkpoints", out, (trials + concurrent) * largest,
                               CHECKPOINT_KEY))
    return needs


def pretraining_needs(specs: list[TrialSpec]) -> list[disk.Need]:
    from haco.pretrain import TWIN_WEIGHTS
    from haco.pretrain.dataset import pending_bytes, set_dir

    sets = {}
    for spec in specs:
        if str(spec.config.model.pretrained) == TWIN_WEIGHTS:
            sets.setdefault(set_dir(spec.config), spec.config)
    return [disk.Need("pretraining set", root, pending_bytes(cfg)) for root, cfg in sets.items()]
