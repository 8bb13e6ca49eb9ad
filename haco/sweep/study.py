"""A study (haco/conf/study/<name>.yaml) expanded into trials: every cell x every seed.

A cell is a row of a paper table: a label as printed and the Hydra overrides that turn the
`train` config into that row. A trial's config is the `sweep` config composed with the
user's overrides, then the cell's, then its seed, minus the sweep's own keys: exactly
what `haco train <same overrides>` would run, so its config hash matches a hand-run trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from haco.config import ConfigError, config_hash, load_config

SWEEP_KEYS = ("study", "seeds", "resources", "ray", "sweep", "budget")  # not part of a trial


@dataclass(frozen=True)
class TrialSpec:
    """One trial of a study: what it computes and how MLflow knows it."""

    key: str              # `<config hash>-s<seed>`: unique in a study, safe in file names
    row: str              # the paper's row label
    seed: int
    config_hash: str      # haco.config_hash: the seeds of one cell share it
    cfg: dict             # the resolved `train` config (plain, so Ray can ship it)

    @property
    def config(self) -> DictConfig:
        return OmegaConf.create(self.cfg)


def seed_list(value) -> list[int]:
    """`seeds=3` -> [0, 1, 2]; `seeds=[0,5]` -> [0, 5]."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ConfigError(f"seeds={value}: give a count >= 1 or a list, e.g. seeds=[0,5]")
        return list(range(value))
    try:
        seeds = [int(s) for s in value]
    except (TypeError, ValueError):
        raise ConfigError(f"seeds={value}: give a count (seeds=3) or a list (seeds=[0,5])"
                          ) from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds={value}: the list must be non-empty, without repeats")
    return seeds


def storage_dir(cfg: DictConfig, name: str) -> Path:
    """`<sweep.storage_path>/<name>`: a trial's checkpoints (named by its key, so a retry
    on another node or the next launch resumes from the last epoch), Ray's results
    (`ray`) and the launch locks (`locks`). Shared by every node on a cluster."""
    from haco.paths import project_root

    root = cfg.sweep.storage_path or project_root() / "runs"
    return Path(root).expanduser().resolve() / name


def expand(cfg: DictConfig, overrides: list[str]) -> list[TrialSpec]:
    """Every cell x seed of `cfg.study` as a TrialSpec; all config errors at once."""
    cells = selected_cells(cfg)
    specs, errors = [], []
    for cell in cells:
        for seed in seed_list(cfg.seeds):
            try:
                specs.append(trial_spec(cfg, cell, overrides, seed))
            except ConfigError as err:
                errors.append(f"  {cell.row!r} seed {seed}: {err}")
    if errors:
        raise ConfigError(f"study {cfg.study.name}: {len(errors)} trial(s) cannot be built; "
                          "nothing was launched\n" + "\n".join(errors))
    return check_unique(specs)


def selected_cells(cfg: DictConfig) -> list:
    """The study's cells, or those `sweep.rows` names (in the study's order)."""
    cells = list(cfg.study.cells)
    if cfg.sweep.rows is None:
        return cells
    wanted = [str(r) for r in cfg.sweep.rows]
    unknown = sorted(set(wanted) - {str(c.row) for c in cells})
    if unknown:
        raise ConfigError(f"sweep.rows: {unknown} not in study {cfg.study.name}; its rows: "
                          + ", ".join(str(c.row) for c in cells))
    return [c for c in cells if str(c.row) in wanted]


def trial_spec(cfg: DictConfig, cell, overrides: list[str], seed: int) -> TrialSpec:
    from haco.train.loop import validate

    composed = load_config("sweep", [*overrides, *cell.overrides, f"seed={seed}"])
    trial = OmegaConf.masked_copy(composed, [k for k in composed if k not in SWEEP_KEYS])
    validate(trial)
    key = f"{config_hash(trial)}-s{seed}"
    trial.train.out_dir = str(storage_dir(cfg, key))
    trial.train.resume = True  # a retry or a later launch continues from the checkpoint
    trial.train.progress = "log"
    return TrialSpec(key, str(cell.row), seed, config_hash(trial),
                     OmegaConf.to_container(trial, resolve=True))


def check_unique(specs: list[TrialSpec]) -> list[TrialSpec]:
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.key in seen:
            raise ConfigError(f"cells {seen[spec.key]!r} and {spec.row!r} are the same "
                              "configuration; make their overrides differ")
        seen[spec.key] = spec.row
    return specs
