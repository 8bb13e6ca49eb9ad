"""The pretraining run: weights cached beside their set, one MLflow run, `haco pretrain`.

`model.pretrained=twin` names the backbone pretrained on this profile's pretraining set
with this config's `pretrain.*` recipe. `resolve_pretrained(cfg)` turns it into the path of
that file, building the set and training first when they are missing (once: a lock keeps
two launches from doing it twice, and a recipe already built is never built again). The
weights are saved atomically in timm's layout, so they load like any backbone checkpoint.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from haco import disk
from haco.config import ConfigError, digest
from haco.pretrain.dataset import build_set, load_set, recipe, set_dir

TWIN_WEIGHTS = "twin"   # the value of model.pretrained that asks for these weights
TRAIN_VERSION = 2       # bump when the network, losses or loop change what is learned
TRAIN_KEYS = ("epochs", "lr", "weight_decay", "batch_size", "holdout", "loss_weights")


def weights_path(cfg) -> Path:
    """<pretraining set>/<backbone>-<hash of the set, backbone and training recipe>.pt"""
    what = {"set": recipe(cfg), "backbone": str(cfg.model.backbone), "version": TRAIN_VERSION,
            **{k: recipe_value(cfg.pretrain[k]) for k in TRAIN_KEYS}}
    return set_dir(cfg) / f"{cfg.model.backbone}-{digest(what)}.pt"


def recipe_value(value):
    """A recipe value as JSON: loss weights as floats, so `pose=10` and `pose=10.0` agree."""
    if isinstance(value, DictConfig):
        return {k: float(v) for k, v in value.items()}
    return value


def check_loss_weights(cfg: DictConfig) -> None:
    """A weight for every pretraining loss and for nothing else, before any work starts."""
    from haco.pretrain.model import LOSS_TERMS  # the network's module: imported when needed

    given = set(cfg.pretrain.loss_weights)
    if given != set(LOSS_TERMS):
        raise ConfigError(f"pretrain.loss_weights must weigh exactly {', '.join(LOSS_TERMS)}; "
                          f"got {', '.join(sorted(given)) or 'nothing'} (e.g. "
                          "pretrain.loss_weights.pose=10)")


def resolve_pretrained(cfg: DictConfig) -> DictConfig:
    """`cfg` with `model.pretrained=twin` replaced by the weights' path (made if missing)."""
    if str(cfg.model.pretrained) != TWIN_WEIGHTS:
        return cfg
    path = weights_path(cfg)
    if not path.is_file():  # a launch builds it before its trials; a lone `haco train` here
        print(f"pretraining the {cfg.model.backbone} backbone on twin images first (once; "
              f"cached as {path})", flush=True)
    return OmegaConf.merge(cfg, {"model": {"pretrained": str(ensure_pretrained(cfg, True))}})


def ensure_pretrained(cfg: DictConfig, progress: bool = False) -> Path:
    """The weights' path; the set is built and the backbone trained first if needed."""
    check_loss_weights(cfg)
    path = weights_path(cfg)
    if path.is_file():
        return path
    with build_lock(path.parent):
        if not path.is_file():  # another process may have made it while we waited
            started = time.perf_counter()
            build_set(cfg, progress)
            set_seconds = time.perf_counter() - started
            history = pretrain(cfg, path, progress)
            # Logged once the weights exist: a run in haco/pretrain always has its file.
            log_run(cfg, path, history, set_seconds, time.perf_counter() - started)
    return path


@contextlib.contextmanager
def build_lock(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".build.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # waits: the other build's result is ours too
        yield


def pretrain(cfg: DictConfig, path: Path, progress: bool) -> list[dict[str, float]]:
    """Train the pretraining network on the set; save the backbone to `path` (atomic);
    the per-epoch history (train loss, held-out losses, seconds)."""
    from tqdm import tqdm

    from haco.atomic import write_with
    from haco.pretrain.model import PretrainNet, losses

    p = cfg.pretrain
    torch.manual_seed(int(p.seed))
    data = {k: torch.from_numpy(v) for k, v in load_set(set_dir(cfg)).items()}
    holdout = int(p.holdout)
    n_train = len(data["image"]) - holdout
    if n_train < int(p.batch_size):
        raise ValueError(f"pretrain.samples={p.samples} leaves {n_train} training samples "
                         f"after pretrain.holdout={holdout}; raise samples or lower holdout")
    net = PretrainNet(str(cfg.model.backbone), int(p.target_size))
    steps = int(p.epochs) * (n_train // int(p.batch_size))
    optimizer = torch.optim.AdamW(net.parameters(), lr=float(p.lr),
                                  weight_decay=float(p.weight_decay))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, float(p.lr), total_steps=steps,
                                                   pct_start=0.05)
    history = []
    for epoch in range(int(p.epochs)):
        start, net = time.perf_counter(), net.train()
        order = torch.randperm(n_train, generator=torch.Generator().manual_seed(epoch))
        batches = order[: steps // int(p.epochs) * int(p.batch_size)].view(-1, int(p.batch_size))
        total = 0.0
        for rows in tqdm(batches, disable=not progress, leave=False,
                         desc=f"pretrain epoch {epoch + 1}/{p.epochs}"):
            terms = losses(net, batch(data, rows))
            loss = sum(float(p.loss_weights[name]) * value for name, value in terms.items())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        record = {"pretrain/loss": total / len(batches),
                  **held_out(net, data, n_train), "pretrain/epoch_seconds":
                  time.perf_counter() - start}
        history.append(record)
        print(f"pretrain epoch {epoch + 1}/{p.epochs}: " + "  ".join(
            f"{k.split('/')[-1]} {v:.4f}" for k, v in record.items()), flush=True)
    state = net.backbone.model.state_dict()
    with disk.on_full(path, sum(t.numel() * t.element_size() for t in state.values())):
        write_with(path, lambda tmp: torch.save(state, tmp))
    return history


def batch(data: dict[str, torch.Tensor], rows: torch.Tensor) -> dict[str, torch.Tensor]:
    """The samples `rows` as tensors: images (B,3,H,W) floats in [0,1], targets as stored."""
    out = {k: v[rows] for k, v in data.items()}
    out["image"] = out["image"].permute(0, 3, 1, 2).float() / 255
    return out


@torch.no_grad()
def held_out(net, data: dict[str, torch.Tensor], first: int) -> dict[str, float]:
    """Mean losses on the samples from `first` on (never trained on)."""
    from haco.pretrain.model import losses

    net.eval()
    rows = torch.arange(first, len(data["image"]))
    sums: dict[str, float] = {}
    for chunk in rows.split(256):
        for name, value in losses(net, batch(data, chunk)).items():
            sums[name] = sums.get(name, 0.0) + value.item() * len(chunk)
    return {f"pretrain/holdout_{k}": v / max(len(rows), 1) for k, v in sums.items()}


def log_run(cfg: DictConfig, path: Path, history: list[dict], set_seconds: float,
            seconds: float) -> None:
    """One FINISHED run in experiment haco/pretrain: the recipe, the curves, the path."""
    from haco import ledger, tracking  # MLflow loads only when a pretraining ends
    from haco.ledger import Kind, Tag

    client = tracking.client(cfg)
    experiment = tracking.experiment_id(client, cfg, "pretrain")
    run_id = ledger.create(client, experiment, f"pretrain {path.stem}", {
        Tag.KIND: Kind.PRETRAIN, Tag.PROFILE: str(cfg.profile),
        Tag.PRETRAIN_WEIGHTS: str(path), **ledger.git_state()})
    params = {f"pretrain.{k}": v for k, v in cfg.pretrain.items()}
    params.update({"model.backbone": cfg.model.backbone, "data.image_size": cfg.data.image_size})
    tracking.log_dict_params(client, run_id, params)
    tracking.log_history(client, run_id, history)
    tracking.log_metrics(client, run_id, {"pretrain/set_seconds": set_seconds,
                                          "pretrain/seconds": seconds})
    ledger.finish(client, run_id)


def pretrain_command(cfg: DictConfig) -> int:
    """`haco pretrain [profile=quick]`: build the set and pretrain the backbone (cached)."""
    started = time.perf_counter()
    path = ensure_pretrained(cfg, progress=True)
    print(f"pretrained backbone: {path} ({time.perf_counter() - started:.1f} s)")
    print(f"use it: haco train model.pretrained={TWIN_WEIGHTS} (the quick profile's default)")
    return 0
