"""The plan's estimate: what each trial will take, from what it will cost where it runs.

    trial seconds = overhead + build + steps x step + eval batches x eval batch
                    + epochs x checkpoint + 13 x forward (the fps measurement)

The counts (a `Workload`) come from the trial's config alone: the training samples of its
splits (a twin's size is a function of the profile, a real split's is on disk), its batch
size, epochs and `steps_per_epoch`, its validation and test sets. The unit costs
(`UnitCosts`) of its model are measured once, where the trials run: a Ray task with one
trial's resources builds the model and times a few training steps, evaluation batches,
batch-1 forwards and one checkpoint save, on random images of the profile's size; the
measurements are cached per model and device in `<sweep.storage_path>/calibration/`
(shared by every node on a cluster), so a plan measures only models it has not met, and
starts no task at all on hardware a task has named the device of before (devices.json).

Finished runs refine it: each trial run is tagged with its cost family (model, device
share and workload) and its estimate. A trial whose family has finished runs in the study
is estimated by their median wall time; otherwise the calibrated estimate is scaled by the
median of actual / estimated over the study's finished runs that carry an estimate. The
per-trial overhead (Ray, MLflow, data loading, the test heatmaps) is a per-profile prior
until then. `haco bench estimate` prints estimate against actual per trial and per launch.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

from omegaconf import OmegaConf

from haco.config import digest
from haco.ledger import TRIAL_SECONDS, Status, Tag

CALIBRATION_VERSION = 2   # bump when what `measure` times changes: cached entries then miss
FPS_FORWARDS = 13         # haco.train.loop.static_costs: 3 warm-up + 10 timed forwards
WARMUP = 2                # untimed calls before a unit is timed
TIMING_SECONDS = 2.0      # a unit is timed until its calls add up to this (2 to 8 calls)
# Per-trial seconds outside the model's work (Ray's trial start, MLflow logging and
# provenance, reading the shards, four test heatmaps), before finished runs measure them.
OVERHEAD_SECONDS = {"smoke": 6.0, "quick": 15.0, "paper": 120.0}
# Once per launch: Ray Tune starting and the first trial process importing torch and MLflow
# (later trials reuse it).
LAUNCH_SECONDS = 10.0
RULE_OF_THUMB_SECONDS = {"smoke": 20.0, "quick": 120.0, "paper": 8 * 3600.0}


@dataclass(frozen=True)
class Workload:
    """How much of each kind of work one trial does."""

    train_steps: int      # optimizer steps over all epochs
    eval_batches: int     # validation batches over all epochs + the test sets' batches
    checkpoints: int      # one save per epoch
    forwards: int = FPS_FORWARDS


@dataclass(frozen=True)
class UnitCosts:
    """Seconds of each unit of work for one model on one device share."""

    build: float          # constructing the model (random weights) and moving it
    step: float           # one training step at the profile's batch size
    eval_batch: float     # one evaluation batch (no gradients)
    forward: float        # one batch-1 forward
    checkpoint: float     # one torch.save of the model and optimizer states

    def seconds(self, work: Workload) -> float:
        return (self.build + work.train_steps * self.step + work.eval_batches * self.eval_batch
                + work.forwards * self.forward + work.checkpoints * self.checkpoint)


@dataclass(frozen=True)
class TrialEstimate:
    seconds: float
    source: str           # how it was made, for the plan
    family: str           # the cost family it is tagged with


# ---------------------------------------------------------------------------- counting


def split_size(cfg, name: str, split: str) -> int | None:
    """Samples in a dataset's split as the trial will read it, without generating it: a
    twin's size from the profile, a real split's from its shards (None if not imported)."""
    from haco.data.catalogue import source_name, split_dir
    from haco.data.integrity import shard_counts
    from haco.data.registry import get_dataset
    from haco.synth.layout import split_sizes
    from haco.synth.twins import get_twin

    source = source_name(cfg, name)
    if cfg.data.source == "synthetic":
        return split_sizes(cfg, get_twin(source)).get(split, 0)
    size = sum(shard_counts(split_dir(cfg, source, split)).values())  # no shard read
    if not size:
        return None
    stride = get_dataset(source).train_stride
    if split == "train" and cfg.loader.apply_strides and stride > 1:
        size = math.ceil(size / stride)
    return size


def workload(cfg) -> Workload | None:
    """The trial's counts, or None when a split it reads is not there to count."""
    from haco.data.catalogue import dataset_names

    sizes = {}
    for role, split in (("train", "train"), ("val", "val"), ("test", "test")):
        counted = [split_size(cfg, n, split) for n in dataset_names(cfg, role)]
        if any(c is None for c in counted):
            return None
        sizes[role] = counted
    batch, epochs = int(cfg.loader.batch_size), int(cfg.train.epochs)
    steps = sum(sizes["train"]) // batch  # full batches only
    if cfg.train.steps_per_epoch:
        steps = min(steps, int(cfg.train.steps_per_epoch))
    val = math.ceil(sum(sizes["val"]) / batch)  # one mixed loader, the last batch partial
    test = sum(math.ceil(n / batch) for n in sizes["test"])  # one loader per test set
    return Workload(steps * epochs, val * epochs + test, epochs)


# ---------------------------------------------------------------------------- calibration


def model_key(cfg, resources) -> str:
    """What a model's unit costs depend on: its shapes and objective, input, batch,
    precision, and the share of a device it gets (not its weights' values or its data)."""
    model = OmegaConf.to_container(cfg.model, resolve=True)
    model.pop("pretrained", None)
    model.pop("threshold", None)
    return digest({"model": model, "loss": OmegaConf.to_container(cfg.loss, resolve=True),
                   "image": int(cfg.data.image_size),
                   "batch": int(cfg.loader.batch_size), "precision": str(cfg.train.precision),
                   "compile": bool(cfg.train.compile), "cpus": resources.cpus,
                   "gpus": resources.gpus})


def device_name() -> str:
    """The device a measurement ran on: the GPU's name, else the CPU's model and the
    torch threads the trial gets."""
    import torch

    from haco.provenance import cpu_model

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{cpu_model()} x{torch.get_num_threads()} threads"


def timed(fn, device, warmup: int = WARMUP, least: int = 2, most: int = 8,
          seconds: float = TIMING_SECONDS) -> float:
    """Median seconds of `fn()` after `warmup` untimed calls: at least `least` timed calls,
    more (up to `most`) while they add up to under `seconds` (the first calls of a small
    model on a CPU run slow while kernels are chosen; a large one is timed twice)."""
    from haco.model.costs import sync

    for _ in range(warmup):
        fn()
    sync(device)
    times: list[float] = []
    while len(times) < least or (len(times) < most and sum(times) < seconds):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(cfg: dict, scratch: Path) -> UnitCosts:
    """The unit costs of the trial config `cfg`'s model, on this process's device."""
    import numpy as np
    import torch

    from haco.model import model_from_config
    from haco.model.costs import sync
    from haco.train.loop import autocast_for, pick_device, train_step

    # Random weights (no file to read), and no divergence check to trip on random labels.
    cfg = OmegaConf.merge(OmegaConf.create(cfg), {"model": {"pretrained": None},
                                                  "train": {"max_grad_norm": float("inf")}})
    device = pick_device()
    size, batch = int(cfg.data.image_size), int(cfg.loader.batch_size)
    start = time.perf_counter()
    init_mean = np.zeros(778) if cfg.model.init == "mean" else None  # its values cost nothing
    model = model_from_config(cfg, init_mean).to(device)
    sync(device)
    build = time.perf_counter() - start
    objective = dummy_objective(cfg).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    autocast = autocast_for(cfg, device)
    images = torch.rand(batch, 3, size, size, device=device)
    batch_of = {"image": images,
                "contacts": torch.rand(batch, 778, generator=torch.Generator().manual_seed(0)) < 0.1}
    # The trial's own step (haco.train.loop.train_step): forward, objective, the checks,
    # backward, the gradient norm, AdamW; over what it reads of a Training.
    training = SimpleNamespace(cfg=cfg, device=device, model=model.train(), objective=objective,
                               optimizer=optimizer, autocast=autocast)
    generator = torch.Generator(device).manual_seed(0)

    def step():
        train_step(training, batch_of, 0, 0, generator)

    def evaluate(batch_images=images):
        with torch.no_grad(), autocast():
            torch.sigmoid(model.eval()(batch_images)[778])

    one = images[:1]
    costs = {"build": build, "step": timed(step, device),
             "eval_batch": timed(evaluate, device),
             "forward": timed(lambda: evaluate(one), device)}
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        start = time.perf_counter()
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()},
                   Path(tmp) / "checkpoint.pt")
        costs["checkpoint"] = time.perf_counter() - start
    return UnitCosts(**costs)


def dummy_objective(cfg):
    """The trial's objective (its loss, auxiliary terms and levels) built on made-up label
    counts: the counts change its weights, not what it computes."""
    import numpy as np

    from haco.hand import load_hand
    from haco.losses import build_objective

    hand = load_hand(cfg.hand.mano_path)
    counts = {lv: np.full((2, lv), 10.0) for lv in {778, *cfg.loss.levels}}
    return build_objective(cfg.loss, counts, np.full(778, 0.1), hand.regressors,
                           hand.adjacency, int(cfg.train.epochs), faces=hand.faces)


def calibrate_here(configs: dict[str, dict], cache_dir: str
                   ) -> tuple[str, dict[str, dict], int]:
    """(device, {model key: unit costs}, how many were measured) for every config,
    measuring only those the cache of this device lacks; runs inside a Ray task with one
    trial's resources."""
    from haco.atomic import write_json
    from haco.train.loop import set_threads

    first = next(iter(configs.values()))
    set_threads(OmegaConf.create(first))
    device = device_name()
    models = cached_models(Path(cache_dir), device)
    missing = [k for k in configs if entry(k) not in models]
    for key in missing:
        models[entry(key)] = asdict(measure(configs[key], Path(cache_dir)))
    if missing:
        write_json(device_cache(Path(cache_dir), device), {"device": device, "models": models})
    return device, {k: models[entry(k)] for k in configs}, len(missing)


def device_cache(cache_dir: Path, device: str) -> Path:
    return cache_dir / f"{digest(device)}.json"


def cached_models(cache_dir: Path, device: str) -> dict[str, dict]:
    """{entry: unit costs} measured on `device` so far ({} before its first)."""
    path = device_cache(cache_dir, device)
    return json.loads(path.read_text())["models"] if path.is_file() else {}


def entry(model: str) -> str:
    """A model's entry in a device's cache: a new `measure` (version) makes new entries."""
    return f"v{CALIBRATION_VERSION}:{model}"


def calibrate(specs, resources, cache_dir: Path) -> tuple[str, dict[str, UnitCosts], int]:
    """(device, {model key: UnitCosts}, how many were measured now) for the models of
    `specs`, measured (or read from the cache) by a Ray task that gets exactly what one
    trial gets. Where the cluster's hardware is one a task has named the device of
    before (devices.json) and the cache has every model, no task is needed: that task's
    process would import torch and the model code (~6 s here) to read a file."""
    import ray

    from haco.atomic import write_json

    configs = {}
    for spec in specs:
        configs.setdefault(model_key(spec.config, resources), spec.cfg)
    devices = cache_dir / "devices.json"
    known = json.loads(devices.read_text()) if devices.is_file() else {}
    signature = hardware_signature(resources, specs[0].config)
    found = cached_units(cache_dir, known.get(signature), configs)
    if found is not None:
        return known[signature], found, 0
    task = ray.remote(num_cpus=resources.cpus, num_gpus=resources.gpus)(calibrate_here)
    device, measured_now, measured = ray.get(task.remote(configs, str(cache_dir)))
    if known.get(signature) != device:
        write_json(devices, {**known, signature: device})
    return device, {k: UnitCosts(**v) for k, v in measured_now.items()}, measured


def hardware_signature(resources, cfg) -> str:
    """What a trial's device name follows: the cluster's live nodes (host, CPUs, GPUs,
    accelerator types; not their free memory) and what one trial gets of them."""
    import ray

    def hardware(node) -> list:
        return sorted((k, v) for k, v in node["Resources"].items()
                      if k in ("CPU", "GPU") or k.startswith("accelerator_type:"))

    nodes = sorted((n["NodeManagerHostname"], hardware(n)) for n in ray.nodes() if n["Alive"])
    return digest({"nodes": nodes, "cpus": resources.cpus, "gpus": resources.gpus,
                   "threads": cfg.train.threads})


def cached_units(cache_dir: Path, device: str | None, configs: dict
                 ) -> dict[str, UnitCosts] | None:
    """{model key: UnitCosts} from the cache of `device` when it has every model, else None."""
    models = cached_models(cache_dir, device) if device else {}
    if not models or any(entry(k) not in models for k in configs):
        return None
    return {k: UnitCosts(**models[entry(k)]) for k in configs}


# ---------------------------------------------------------------------------- the estimate


class Estimator:
    """Every trial's estimate for one launch: by its family's finished runs where the study
    has some, else calibrated (and scaled by how earlier estimates fared)."""

    def __init__(self, cfg, resources, specs, past_runs, cache_dir: Path):
        self.profile, self.resources = str(cfg.profile), resources
        self.fixed = (float(cfg.sweep.estimate_seconds) if cfg.sweep.estimate_seconds
                      else None)
        self.work = {s.key: workload(s.config) for s in specs}
        finished = [r for r in past_runs if r.info.status == Status.FINISHED
                    and TRIAL_SECONDS in r.data.metrics]
        self.by_family: dict[str, list[float]] = {}
        for run in finished:
            family = run.data.tags.get(Tag.COST_FAMILY)
            if family:
                self.by_family.setdefault(family, []).append(run.data.metrics[TRIAL_SECONDS])
        ratios = [r.data.metrics[TRIAL_SECONDS] / float(r.data.tags[Tag.ESTIMATE])
                  for r in finished if float(r.data.tags.get(Tag.ESTIMATE, 0) or 0) > 0]
        self.ratio = (statistics.median(ratios), len(ratios)) if ratios else None
        to_measure = [s for s in specs if self.fixed is None and self.work[s.key] is not None
                      and self.family(s) not in self.by_family]
        started = time.monotonic()
        self.device, self.units, measured = (calibrate(to_measure, resources, cache_dir)
                                             if to_measure else ("", {}, 0))
        self.calibration = (f"calibration: {measured} model(s) measured in "
                            f"{time.monotonic() - started:.0f} s on one trial's resources, "
                            f"{len(self.units) - measured} from the cache in {cache_dir}"
                            if self.units else "")

    def family(self, spec) -> str:
        """Trials that cost the same: one model on one device share, one workload."""
        work = self.work[spec.key]
        return digest({"model": model_key(spec.config, self.resources),
                       "work": asdict(work) if work else spec.config_hash})

    def of(self, spec) -> TrialEstimate:
        family = self.family(spec)
        if self.fixed is not None:
            return TrialEstimate(self.fixed, "sweep.estimate_seconds", family)
        past = self.by_family.get(family)
        if past:
            return TrialEstimate(statistics.median(past),
                                 f"median of {len(past)} finished run(s) of its family", family)
        work = self.work[spec.key]
        if work is None:
            return TrialEstimate(RULE_OF_THUMB_SECONDS.get(self.profile, 600.0),
                                 "rule of thumb: its data is not there to count", family)
        units = self.units[model_key(spec.config, self.resources)]
        seconds = OVERHEAD_SECONDS.get(self.profile, 60.0) + units.seconds(work)
        if self.ratio:
            ratio, n = self.ratio
            return TrialEstimate(seconds * ratio, f"calibrated on {self.device}, x {ratio:.2f} "
                                 f"(actual/estimate of {n} finished run(s))", family)
        return TrialEstimate(seconds, f"calibrated on {self.device}", family)


def wall_seconds(seconds: list[float], concurrent: int) -> float:
    """The launch's wall time when trials of these durations run `concurrent` at a time,
    each starting as soon as a slot frees up, in order, after the launch's own start."""
    slots = [0.0] * max(1, concurrent)
    for s in seconds:
        slots[slots.index(min(slots))] += s
    return LAUNCH_SECONDS + max(slots) if seconds else 0.0


def tags_of(estimate: TrialEstimate) -> dict[str, str]:
    """What a trial run carries of its estimate, for later launches and `haco bench`."""
    return {Tag.COST_FAMILY: estimate.family, Tag.ESTIMATE: f"{estimate.seconds:.1f}"}


def cache_dir_of(storage) -> Path:
    return Path(storage) / "calibration"

