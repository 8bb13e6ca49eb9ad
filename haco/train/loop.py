"""`run(cfg) -> metrics`: one trial, the only training function (CLI, sweeps, tests).

Data (shards + Balanced Contact Sampling) -> model -> objective -> AdamW + MultiStepLR;
train, validate every epoch, checkpoint atomically, test on each configured test set,
measure compute costs. Metric names follow docs/design.md (`train/loss`, `val/f1`,
`test/MOW/f1`, `cost/gflops`, ...). Every source of randomness is a function of
(seed, epoch), so a run resumed from its last checkpoint ends exactly where an
uninterrupted one does.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from haco.config import ConfigError, config_hash
from haco.data import catalogue
from haco.data.augment import augment
from haco.data.loader import build_loader, specs_for
from haco.hand import load_hand
from haco.losses import build_objective
from haco.model import INIT_KINDS, model_from_config
from haco.model.costs import count_params, gmacs, inference_fps, model_memory_mb
from haco.pretrain import TWIN_WEIGHTS, resolve_pretrained
from haco.synth import generate
from haco.train import data as trial_data
from haco.train.checkpoint import LAST, load_checkpoint, save_checkpoint
from haco.train.costs import PeakMemory, price
from haco.train.evaluate import (
    chooses_on_validation,
    decision_threshold,
    evaluate,
    protocol_of,
    test_metrics,
)
from haco.train.progress import EpochProgress, epoch_line, interactive

PRECISIONS = ("auto", "fp32", "bf16")


class DivergenceError(RuntimeError):
    """The loss or the gradients left the finite range; the last good checkpoint stays."""


@dataclass
class TrainingState:
    """What a checkpoint restores."""

    epoch: int = 0                    # epochs completed
    train_seconds: float = 0.0        # wall time spent training, over all resumed segments
    history: list[dict] = field(default_factory=list)  # one record per completed epoch


# ---------------------------------------------------------------------------- setup


def validate(cfg: DictConfig) -> None:
    """Configuration errors surface here, before any data is generated or read."""
    if int(cfg.train.epochs) < 1:
        raise ConfigError(f"train.epochs must be >= 1, got {cfg.train.epochs}")
    if float(cfg.train.backbone_lr_scale) < 0:
        raise ConfigError(f"train.backbone_lr_scale must be >= 0 (0 freezes the backbone's "
                          f"updates), got {cfg.train.backbone_lr_scale}")
    if cfg.train.precision not in PRECISIONS:
        raise ConfigError(f"train.precision must be one of {PRECISIONS}, got "
                          f"{cfg.train.precision!r}")
    if cfg.model.init not in INIT_KINDS:
        raise ConfigError(f"model.init must be one of {INIT_KINDS}, got {cfg.model.init!r}")
    if chooses_on_validation(cfg) and not catalogue.dataset_names(cfg, "val"):
        raise ConfigError("model.threshold=val chooses the threshold on validation, but "
                          "data.val is empty; give data.val or a numeric model.threshold")
    if cfg.model.init == "mean" and not cfg.model.init_dataset:
        raise ConfigError("model.init=mean needs model.init_dataset, e.g. model.init_dataset=MOW")
    for key in ("model.pretrained", "hand.mano_path"):
        path = OmegaConf.select(cfg, key)
        if path == TWIN_WEIGHTS and key == "model.pretrained":
            continue  # made on first use (haco.pretrain)
        if path and not Path(path).expanduser().is_file():
            raise ConfigError(f"{key}={path}: no such file; give the local path of the file "
                              f"or set {key}=null")
    try:
        interactive(cfg.train.progress)
        for key in ("train", "val", "test"):
            for name in catalogue.dataset_names(cfg, key):
                catalogue.source_name(cfg, name)
        meta_model(cfg)
        with torch.device("meta"):
            hand = load_hand(cfg.hand.mano_path)
            dummy = {lv: np.ones((2, lv)) for lv in {778, *cfg.loss.levels}}  # as level_counts
            build_objective(cfg.loss, dummy, np.zeros(778), hand.regressors,
                            hand.adjacency, int(cfg.train.epochs), faces=hand.faces)
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"bad configuration: {err}") from None


def meta_model(cfg: DictConfig) -> torch.nn.Module:
    """The model's shapes on the meta device: no memory, no weights file read, a dummy
    mean map for init=mean (its values do not change a shape or a FLOP)."""
    init_mean = np.zeros(778) if cfg.model.init == "mean" else None
    with torch.device("meta"):
        return model_from_config(OmegaConf.merge(cfg, {"model": {"pretrained": None}}),
                                 init_mean)


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_threads(cfg) -> int:
    """Torch threads follow the trial's resources: Ray sets OMP_NUM_THREADS to the CPUs a
    trial was given, so several trials on one machine do not oversubscribe it."""
    threads = cfg.train.threads or os.environ.get("OMP_NUM_THREADS")
    threads = int(threads) if threads else len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    return threads


def autocast_for(cfg, device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    bf16 = cfg.train.precision == "bf16" or (cfg.train.precision == "auto"
                                             and device.type == "cuda")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if not bf16:
        return contextlib.nullcontext
    return lambda: torch.autocast(device.type, dtype=torch.bfloat16)


def out_dir(cfg) -> Path:
    from haco.paths import project_root

    if cfg.train.out_dir:
        return Path(cfg.train.out_dir).expanduser().resolve()
    return project_root() / "runs" / config_hash(cfg, with_seed=True)


# ---------------------------------------------------------------------------- one epoch


def train_epoch(training: Training, epoch: int) -> dict[str, float]:
    """One pass of the epoch's BCS draw (or `steps_per_epoch` steps); mean loss terms."""
    cfg, device = training.cfg, training.device
    training.model.train()
    torch.manual_seed(int(cfg.seed) * 1000 + epoch)
    generator = torch.Generator(device).manual_seed(int(cfg.seed) * 1000 + epoch)
    training.train_loader.sampler.set_epoch(epoch)
    steps = len(training.train_loader)
    if cfg.train.steps_per_epoch:
        steps = min(steps, int(cfg.train.steps_per_epoch))
    progress = EpochProgress(training.train_loader, steps, epoch, training.epochs, training.bar)
    sums: dict[str, float] = {}
    for step, batch in enumerate(progress):
        if step == steps:
            break
        terms = train_step(training, batch, epoch, step, generator)
        for name, value in terms.items():
            sums[name] = sums.get(name, 0.0) + value
        progress.step(terms)
        if training.on_step:
            training.on_step({"epoch": epoch, "step": step, **terms})
    progress.close()
    return {name: total / steps for name, total in sums.items()}


def train_step(training: Training, batch: dict, epoch: int, step: int, generator) -> dict[str, float]:
    images = batch["image"].to(training.device, non_blocking=True)
    labels = batch["contacts"].to(training.device, non_blocking=True)
    images = augment(images, training.cfg.loader.augment, generator)
    with training.autocast():
        logits = training.model(images)
    total, terms = training.objective({k: v.float() for k, v in logits.items()}, labels, epoch)
    values = {"loss": total.item(), **{k: v.item() for k, v in terms.items()}}
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise DivergenceError(f"epoch {epoch + 1}, step {step + 1}: loss term {bad[-1]!r} is "
                              f"{values[bad[-1]]} (terms: {values}); lower train.lr or "
                              "check the data")
    training.optimizer.zero_grad(set_to_none=True)
    total.backward()
    norm = float(torch.nn.utils.clip_grad_norm_(training.model.parameters(), float("inf")))
    if not math.isfinite(norm) or norm > float(training.cfg.train.max_grad_norm):
        raise DivergenceError(f"epoch {epoch + 1}, step {step + 1}: gradient norm {norm:.3g} "
                              f"exceeds train.max_grad_norm={training.cfg.train.max_grad_norm} "
                              f"(loss {values['loss']:.4g}); lower train.lr")
    training.optimizer.step()
    return values


# ---------------------------------------------------------------------------- the training


@dataclass
class Training:
    """What one trial trains with: its config, device, model, objective, optimizer, data
    and where it writes (built once by `setup`)."""

    cfg: DictConfig
    device: torch.device
    model: torch.nn.Module
    objective: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    train_loader: object
    val_loader: object | None
    threshold: float
    autocast: Callable
    bar: bool
    on_step: Callable[[dict], None] | None
    out: Path
    data_metrics: dict[str, float]  # data/<dataset>/noncontact_ratio of the training mix
    train_means: dict[str, np.ndarray]  # each training set's mean contact map

    @property
    def epochs(self) -> int:
        return int(self.cfg.train.epochs)


def param_groups(model: torch.nn.Module, train: DictConfig) -> list[dict]:
    """The backbone at train.lr x train.backbone_lr_scale, the rest (decoder, head, contact
    initialization) at train.lr: a small fine-tuning set can wash a pretrained backbone out."""
    backbone = list(model.backbone.parameters())
    ids = {id(p) for p in backbone}
    rest = [p for p in model.parameters() if id(p) not in ids]
    scale = float(train.backbone_lr_scale)
    return [{"params": backbone, "lr": float(train.lr) * scale}, {"params": rest}]


def setup(cfg: DictConfig, on_step=None) -> Training:
    """The trial's data, model, objective and optimizer. Every split it reads is looked up
    first (the catalogue; twins were made by `run`), so a missing one fails before any
    work and names the command that makes it."""
    device = pick_device()
    torch.manual_seed(int(cfg.seed))
    splits = catalogue.trial_splits(cfg)
    hand = load_hand(cfg.hand.mano_path)
    stats = trial_data.label_stats(list(splits.train.values()), hand.regressors)
    init_mean = None
    if splits.init:  # model.init=mean: the init dataset's mean contact map
        (init_dir,) = splits.init.values()
        init_mean = trial_data.dataset_mean(init_dir)
    model = model_from_config(resolve_pretrained(cfg), init_mean).to(device)
    objective = build_objective(cfg.loss, stats.counts, stats.contact_mean, hand.regressors,
                                hand.adjacency, int(cfg.train.epochs), faces=hand.faces).to(device)
    optimizer = torch.optim.AdamW(param_groups(model, cfg.train), lr=float(cfg.train.lr),
                                  weight_decay=float(cfg.train.weight_decay),
                                  betas=tuple(cfg.train.betas))
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(cfg.train.milestones), gamma=float(cfg.train.gamma))
    train_loader, _ = build_loader(cfg, specs_for(cfg, list(splits.train), "train"), "train")
    val_loader = None
    if splits.val:
        val_loader, _ = build_loader(cfg, specs_for(cfg, list(splits.val), "val"), "val",
                                     train=False)
    if cfg.train.compile:
        model = torch.compile(model)
    return Training(cfg, device, model, objective, optimizer, scheduler, train_loader,
                 val_loader, initial_threshold(cfg), autocast_for(cfg, device),
                 interactive(cfg.train.progress), on_step, out_dir(cfg),
                 trial_data.imbalance_metrics(splits.train), trial_data.contact_means(splits.train))


def make_twins(cfg: DictConfig) -> None:
    """Generate whatever is missing of the twins the trial reads (none on real data): the
    trial's one explicit call to the generator, before any split is looked up. A launch
    has made them already (haco/sweep/prepare.py); then this finds every shard done."""
    names = catalogue.twins_read(cfg)
    if names:
        generate.ensure(cfg, names)


def initial_threshold(cfg) -> float:
    """The threshold validation reports at before any epoch chose one (`val` mode reports
    at the best threshold of each epoch instead)."""
    return 0.5 if chooses_on_validation(cfg) else decision_threshold(cfg)


def restore(training: Training) -> TrainingState:
    path = training.out / LAST
    if not training.cfg.train.resume or not path.is_file():
        return TrainingState()
    saved = load_checkpoint(path)
    if saved["config_hash"] != config_hash(training.cfg, with_seed=True):
        raise ConfigError(f"{path} was written by another configuration; resume it with its "
                          "own overrides, or pick another train.out_dir")
    training.model.load_state_dict(saved["model"])
    training.optimizer.load_state_dict(saved["optimizer"])
    training.scheduler.load_state_dict(saved["scheduler"])
    return TrainingState(saved["epoch"], saved["train_seconds"], saved["history"])


def checkpoint(training: Training, state: TrainingState) -> Path:
    # Only a finite model is saved: a broken state never replaces a good checkpoint.
    if not all(torch.isfinite(p).all() for p in training.model.parameters()):
        raise DivergenceError(f"epoch {state.epoch}: non-finite weights; the checkpoint of "
                              f"epoch {state.epoch - 1} is kept")
    return save_checkpoint(training.out / LAST, {
        "model": training.model.state_dict(), "optimizer": training.optimizer.state_dict(),
        "scheduler": training.scheduler.state_dict(), "epoch": state.epoch,
        "train_seconds": state.train_seconds, "history": state.history,
        "config": OmegaConf.to_container(training.cfg, resolve=True),
        "config_hash": config_hash(training.cfg, with_seed=True)})


def validate_epoch(training: Training) -> dict[str, float]:
    if training.val_loader is None:
        return {}
    metrics, meter = evaluate(training.model, training.val_loader, training.device, training.threshold,
                              sweep=True, autocast=training.autocast,
                              protocol=protocol_of(training.cfg))
    best = meter.best_threshold()
    if chooses_on_validation(training.cfg):  # report where the threshold the tests use peaks
        metrics = next(row for row in meter.sweep() if row["threshold"] == best)
    out = {f"val/{k}": metrics[k] for k in ("precision", "recall", "f1")}
    out["val/best_threshold"] = best
    return out


def static_costs(training: Training) -> dict[str, float]:
    size = int(training.cfg.data.image_size)
    macs = gmacs(meta_model(training.cfg), (size, size))
    fps = inference_fps(training.model, (size, size), training.device, warmup=3, iterations=10)
    return {"cost/params_m": count_params(training.model) / 1e6,
            "cost/model_memory_mb": model_memory_mb(training.model), "cost/gflops": macs,
            "cost/fps": fps}


def run(cfg: DictConfig, on_step: Callable[[dict], None] | None = None,
        on_epoch: Callable[[int, dict, Path], None] | None = None) -> dict[str, float]:
    """Train, validate, checkpoint and test one configuration; returns the final metrics.

    on_step({"epoch", "step", "loss", <terms>}) after every optimizer step;
    on_epoch(epoch, record, checkpoint_path) after every checkpoint (a sweep reports there).
    """
    validate(cfg)
    threads = set_threads(cfg)
    make_twins(cfg)
    training = setup(cfg, on_step)
    state = restore(training)
    with PeakMemory(training.device) as memory:
        for epoch in range(state.epoch, training.epochs):
            start = time.perf_counter()
            terms = train_epoch(training, epoch)
            training.scheduler.step()
            seconds = time.perf_counter() - start
            record = {f"train/{k}": v for k, v in terms.items()}
            record.update(validate_epoch(training))
            record.update({"train/lr": training.optimizer.param_groups[-1]["lr"],
                           "train/epoch_seconds": seconds})
            state = TrainingState(epoch + 1, state.train_seconds + seconds,
                               [*state.history, record])
            path = checkpoint(training, state)
            print(epoch_line(epoch, training.epochs, record), flush=True)
            if on_epoch:
                on_epoch(epoch, record, path)
    heatmaps: dict[str, np.ndarray] = {}
    metrics = final_metrics(training, state, memory.peak_mb, threads, heatmaps)
    write_results(training.out, metrics, state.history, heatmaps, training.train_means)
    return metrics


def final_metrics(training: Training, state: TrainingState, peak_mb: float, threads: int,
                  heatmaps: dict) -> dict:
    last = state.history[-1]
    metrics = {k: v for k, v in last.items() if k != "train/epoch_seconds"}
    threshold = decision_threshold(training.cfg, state.history)
    metrics["eval/threshold"] = threshold
    metrics.update(test_metrics(training.model, training.cfg, training.device, threshold,
                                training.autocast, heatmaps))
    hours, usd = price(state.train_seconds, training.device, training.cfg.costs)
    metrics.update(static_costs(training))
    metrics.update(training.data_metrics)
    metrics.update({"cost/train_memory_mb": peak_mb, "cost/train_seconds": state.train_seconds,
                    "cost/device_hours": hours, "cost/usd": usd, "cost/threads": threads})
    return metrics


# The files a finished run leaves beside its checkpoint (a sweep logs them to MLflow).
METRICS, HISTORY = "metrics.json", "history.json"
HEATMAPS, TRAIN_MEANS = "test_heatmaps.npz", "train_contact_means.npz"


def write_results(out: Path, metrics: dict, history: list[dict], heatmaps: dict,
                  train_means: dict) -> None:
    """metrics.json (final metrics), history.json (one record per epoch),
    test_heatmaps.npz (mean predicted contact per vertex, per test set) and
    train_contact_means.npz (each training set's mean contact map), each atomic."""
    from haco.atomic import write_json, write_npz

    write_json(out / METRICS, metrics)
    write_json(out / HISTORY, history)
    write_npz(out / HEATMAPS, heatmaps)
    write_npz(out / TRAIN_MEANS, train_means)
