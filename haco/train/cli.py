"""`haco train` and `haco eval`: thin wrappers over run() and evaluate()."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

from haco import disk
from haco.train.checkpoint import CHECKPOINT_KEY, checkpoint_bytes
from haco.train.evaluate import protocol_of


def disk_needs(cfg) -> list[disk.Need]:
    """What one trial writes: the twins it reads that are missing, and its checkpoint
    (twice: the next epoch's is written beside the last before replacing it)."""
    from haco.data.catalogue import twins_read
    from haco.synth import generate

    needs = []
    if twins_read(cfg):
        root, count = generate.pending_bytes(cfg, twins_read(cfg))
        needs.append(disk.Need("twins", root, count))
    needs.append(disk.Need("checkpoint", Path(cfg.train.out_dir), 2 * checkpoint_bytes(cfg),
                           CHECKPOINT_KEY))
    return needs


def print_tests(metrics: dict, protocol: str = "paper") -> None:
    counted = "samples with contact" if protocol == "paper" else "samples, every one averaged"
    tests = sorted({k.split("/")[1] for k in metrics if k.startswith("test/")})
    for name in tests:
        m = {k: metrics[f"test/{name}/{k}"] for k in ("precision", "recall", "f1")}
        print(f"test {name:<6} precision {m['precision']:.3f}  recall {m['recall']:.3f}  "
              f"f1 {m['f1']:.3f}  ({metrics[f'test/{name}/count']} {counted})")


def train_command(cfg) -> int:
    from haco.train import run

    disk.require_all(disk_needs(cfg))  # before the twins or the first epoch: exit 2
    metrics = run(cfg)
    print_tests(metrics, protocol_of(cfg))
    costs = {k.removeprefix("cost/"): round(v, 3) for k, v in metrics.items()
             if k.startswith("cost/")}
    print("costs", json.dumps(costs))
    return 0


def eval_command(cfg) -> int:
    """Evaluate a checkpoint on `data.test` (the data keys and `eval.protocol` of this
    command's config replace the checkpoint's; the model and image size are the
    checkpoint's)."""
    from haco import tracking
    from haco.atomic import write_json
    from haco.data.catalogue import dataset_names
    from haco.synth import generate
    from haco.train.checkpoint import load_trained
    from haco.train.evaluate import decision_threshold, test_metrics
    from haco.train.loop import autocast_for, pick_device

    model, trained = load_trained(tracking.fetch_checkpoint(
        str(cfg.checkpoint), tracking.tracking_uri(cfg)))
    merged = OmegaConf.merge(trained, {"data": {k: cfg.data[k] for k in ("test", "source", "root")},
                                       "loader": {"workers": 0},
                                       "eval": {"protocol": cfg.eval.protocol}})
    if merged.data.source == "synthetic":  # the twins it tests on, made first if missing
        generate.ensure(merged, dataset_names(merged, "test"))
    device = pick_device()
    metrics = test_metrics(model.to(device), merged, device, decision_threshold(merged),
                           autocast_for(merged, device))
    print_tests(metrics, protocol_of(merged))
    if cfg.out:
        write_json(cfg.out, metrics)
        print(f"metrics written to {cfg.out}")
    return 0
