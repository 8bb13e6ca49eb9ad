"""`haco bench loader`: does the loader keep up with the training step?

On the quick-profile twins (generated first if missing), in one run: images/s of the loader
alone (BCS, workers, whole-batch reads), of augmentation alone and of loader + augmentation
(augmentation runs in the training process, on its device), of a training step alone, and
of the loader feeding the training step (end to end). Target: the input pipeline delivers
at least 3x what a training step consumes.

The training step is the profile's HACO model with its full objective and AdamW
(haco.bench.step), at the profile's image size and batch size. On a CPU the workers and the step share the cores, so each is first timed alone (the step
with every core), then together, with the step on every core and on the cores left over.
"""

from __future__ import annotations

import os
import sys
import time
import traceback

import torch
from omegaconf import OmegaConf

from haco.bench.step import TrainingStep
from haco.data.augment import augment
from haco.data.loader import build_loader
from haco.model.costs import sync
from haco.synth.generate import synthesize
from haco.synth.layout import selected_twins

TARGET_RATIO = 3.0
WARMUP_BATCHES = 3


def ensure_twins(cfg) -> list[str]:
    """Names of the selected twins, generating whatever shard is missing first
    (`synthesize` skips finished shards itself: a second of work when all exist)."""
    synthesize(cfg)
    return [t.name for t in selected_twins(cfg)]


def batches(loader, count: int, epoch: int = 0):
    """`count` batches, running into further epochs when one epoch is shorter."""
    while count > 0:
        loader.sampler.set_epoch(epoch)
        for batch in loader:
            yield batch
            count -= 1
            if count == 0:
                return
        epoch += 1


def rate(images: int, seconds: float) -> float:
    return images / max(seconds, 1e-9)


def time_loader(loader, steps: int, consume) -> float:
    """images/s of `steps` batches through `consume(batch)`, after a warm-up pass.

    The warm-up starts the (persistent) workers and fills the page cache; the timed pass
    then begins a fresh epoch with an empty prefetch queue, as every epoch does.
    """
    for batch in batches(loader, WARMUP_BATCHES, epoch=100):
        consume(batch)
    it = batches(loader, steps)
    start, images = time.perf_counter(), 0
    for batch in it:
        consume(batch)
        images += len(batch["dataset"])
    return rate(images, time.perf_counter() - start)


class TrainStep:
    """One HACO training step (haco.bench.step) on a loader batch, augmentation included."""

    def __init__(self, cfg, device: torch.device):
        self.device, self.aug_cfg = device, cfg.loader.augment
        self.step = TrainingStep(cfg, device)
        self.generator = torch.Generator(device=device).manual_seed(int(cfg.seed))

    def augment(self, batch) -> torch.Tensor:
        images = batch["image"].to(self.device, non_blocking=True)
        return augment(images, self.aug_cfg, self.generator)

    def __call__(self, batch, images: torch.Tensor | None = None) -> None:
        images = self.augment(batch) if images is None else images
        self.step(images, batch["contacts"].to(self.device, non_blocking=True))


def time_repeated(step, steps: int, device: torch.device, batch_size: int) -> float:
    """images/s of `steps` calls of `step()` after a warm-up, synchronised on a GPU."""
    for _ in range(WARMUP_BATCHES):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return rate(steps * batch_size, time.perf_counter() - start)


def measure(cfg, names: list[str], device: torch.device, cores: int) -> dict:
    """Every rate of the report; raises (LoaderError) when the loader crashes."""
    steps, batch_size = int(cfg.steps), int(cfg.loader.batch_size)
    workers = int(cfg.loader.workers)
    torch.set_num_threads(cores)
    try:
        loader, dataset = build_loader(cfg, names)
        r = {"samples": len(dataset), "image_size": dataset.image_size}
        r["loader"] = time_loader(loader, steps, lambda b: None)
        step = TrainStep(cfg, device)
        sample = next(iter(batches(loader, 1)))
        r["augment"] = time_repeated(lambda: step.augment(sample), steps, device, batch_size)
        r["loader_augment"] = time_loader(loader, steps, lambda b: sync_after(step.augment(b)))
    except Exception as err:
        raise LoaderError(err) from err
    fixed = step.augment(sample)
    r["train"] = time_repeated(lambda: step(sample, fixed), steps, device, batch_size)
    left = max(1, cores - workers) if device.type == "cpu" and workers > 0 else cores
    r["e2e_threads"] = sorted({cores, left}, reverse=True)
    try:
        r["e2e"] = {}
        for threads in r["e2e_threads"]:
            torch.set_num_threads(threads)
            r["e2e"][threads] = time_loader(loader, steps, lambda b: sync_after(step(b)))
    except Exception as err:
        raise LoaderError(err) from err
    finally:
        torch.set_num_threads(cores)
    return r


def sync_after(result):
    """Wait for queued GPU work, so a timed loop measures work done, not work queued."""
    if isinstance(result, torch.Tensor) and result.is_cuda:
        torch.cuda.synchronize(result.device)
    return result


class LoaderError(RuntimeError):
    """The loader crashed during the benchmark (as opposed to the model)."""


def report(cfg, names, r: dict, device: torch.device, cores: int) -> None:
    workers, b = int(cfg.loader.workers), int(cfg.loader.batch_size)
    h, w = r["image_size"]
    bcs = "on" if cfg.loader.bcs.enabled else "off"
    print(f"loader benchmark: profile {cfg.profile}, {len(names)} twins (train splits mixed), "
          f"{r['samples']} samples, {h}x{w} px, batch {b}, BCS {bcs}, {cfg.steps} timed "
          f"batches after {WARMUP_BATCHES} warm-up; device {device}")
    print(f"threads: {cores} cores; {workers} loader workers at 1 torch thread each "
          f"(prefetch {cfg.loader.prefetch_factor}); augmentation and training step alone: "
          f"{cores} torch threads")
    print(f"training step: HACO with {cfg.model.backbone}, {cfg.loss.name} objective over "
          f"{len(cfg.loss.levels)} levels + reg + smooth, AdamW")
    loader_ratio, pipeline_ratio = r["loader"] / r["train"], r["loader_augment"] / r["train"]
    rows = [("loader alone", r["loader"]), ("augmentation alone", r["augment"]),
            ("loader + augmentation", r["loader_augment"]),
            (f"training step alone ({cfg.model.backbone})", r["train"])]
    rows += [(f"end to end, step on {t} thread{'s' * (t > 1)}", v) for t, v in r["e2e"].items()]
    for label, value in rows:
        print(f"  {label:34} {value:10,.0f} images/s")
    met = "met" if pipeline_ratio >= TARGET_RATIO else "NOT met"
    print(f"  ratio loader / train step          {loader_ratio:10.1f}x "
          f"(loader + augmentation: {pipeline_ratio:.1f}x)")
    print(f"  target: loader + augmentation >= {TARGET_RATIO:g}x the training step: {met}")
    if device.type == "cpu" and workers >= cores:
        print(f"  (the {workers} workers share the {cores} cores with the step end to end; "
              "the step alone had them all)")


def bench_command(cfg) -> int:
    """Entry point of `haco bench loader` (config: haco/conf/bench_loader.yaml)."""
    cfg = OmegaConf.merge(cfg, {"data": {"twins": cfg.twins}})
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    names = ensure_twins(cfg)
    try:
        r = measure(cfg, names, device, cores)
    except LoaderError as err:
        traceback.print_exception(err.__cause__, file=sys.stderr)
        print(f"haco bench loader: the loader crashed: {err.__cause__!r}", file=sys.stderr)
        return 1
    report(cfg, names, r, device, cores)
    return 0
