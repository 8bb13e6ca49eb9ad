"""One HACO training step, timed by the benchmarks (loader, losses, train).

The same model, objective and optimizer as haco.train.run builds from the config; the
class counts and mean contact map are uniform stand-ins, which cost the same time as
the real statistics. Augmentation is left to the caller.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from haco.hand import load_hand
from haco.losses import build_objective
from haco.model import model_from_config
from haco.model.costs import sync

WARMUP = 3


class TrainingStep:
    def __init__(self, cfg, device: torch.device):
        hand = load_hand(cfg.hand.mano_path)
        levels = list(cfg.loss.levels)
        counts = {lv: np.full((2, lv), 1000) for lv in levels}
        self.device = device
        self.model = model_from_config(cfg).to(device).train()
        self.objective = build_objective(cfg.loss, counts, np.full(778, 0.1), hand.regressors,
                                         hand.adjacency, int(cfg.train.epochs),
                                         faces=hand.faces).to(device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=float(cfg.train.lr))

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        logits = self.model(images)
        total, _ = self.objective({k: v.float() for k, v in logits.items()}, labels, 0)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        return total.item()


def seconds_per_call(fn, repeats: int, device: torch.device) -> float:
    """Best-of-`repeats` seconds of `fn()` after a warm-up (best: least disturbed by noise)."""
    for _ in range(WARMUP):
        fn()
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def random_batch(cfg, device: torch.device, generator: torch.Generator | None = None):
    """Images (B,3,H,W) in [0,1] and ~10%-contact labels (B,778) of the profile's sizes."""
    size, batch = int(cfg.data.image_size), int(cfg.loader.batch_size)
    images = torch.rand(batch, 3, size, size, generator=generator).to(device)
    labels = (torch.rand(batch, 778, generator=generator) < 0.1).float().to(device)
    return images, labels
