"""`haco bench losses`: what the objective costs next to a quick-profile training step.

Times, side by side in one run and best of `repeats`, forward + backward of each of the
ten main losses on a 24x778 batch, the auxiliary terms, and the full objective (four
levels + reg + smooth); then one whole training step of the profile's model. Target: the
objective is under 5% of the step.
"""

from __future__ import annotations

import numpy as np
import torch

from haco.bench.step import TrainingStep, random_batch, seconds_per_call
from haco.hand import load_hand
from haco.losses import LOSSES, RegLoss, SmoothLoss, build_loss, build_objective

TARGET = 0.05


def loss_timer(loss, logits: torch.Tensor, labels: torch.Tensor):
    def call():
        logits.grad = None
        loss(logits, labels).backward()
    return call


def objective_timer(objective, logits: dict, labels):
    def call():
        for value in logits.values():
            value.grad = None
        objective(logits, labels, 0)[0].backward()
    return call


def bench_command(cfg) -> int:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(int(cfg.seed))
    images, labels = random_batch(cfg, device)
    hand = load_hand(cfg.hand.mano_path)
    repeats = int(cfg.repeats)
    batch = labels.shape[0]
    logits = torch.randn(batch, 778, device=device, requires_grad=True)
    counts = {lv: np.stack([np.full(lv, 9000), np.full(lv, 1000)]) for lv in cfg.loss.levels}
    print(f"{batch}x778 batch, {device.type}, forward + backward, best of {repeats}")
    for name in LOSSES:
        loss = build_loss(name, counts=counts[778], epochs=10).to(device)
        ms = 1e3 * seconds_per_call(loss_timer(loss, logits, labels), repeats, device)
        print(f"  {name:<9} {ms:8.3f} ms")
    probs_fn = {"reg": RegLoss(np.full(778, 0.1)), "smooth": SmoothLoss(hand.adjacency)}
    for name, aux in probs_fn.items():
        aux = aux.to(device)
        fn = loss_timer(lambda p, _y, aux=aux: aux(torch.sigmoid(p)), logits, labels)
        print(f"  {name:<9} {1e3 * seconds_per_call(fn, repeats, device):8.3f} ms")
    objective = build_objective(cfg.loss, counts, np.full(778, 0.1), hand.regressors,
                                hand.adjacency, 10, faces=hand.faces).to(device)
    level_logits = {lv: torch.randn(batch, lv, device=device, requires_grad=True)
                    for lv in cfg.loss.levels}
    full = seconds_per_call(objective_timer(objective, level_logits, labels), repeats,
                            device)
    step = TrainingStep(cfg, device)
    step_s = seconds_per_call(lambda: step(images, labels), max(3, repeats // 10), device)
    share = full / step_s
    print(f"full objective ({cfg.loss.name}, levels {list(cfg.loss.levels)} + reg + smooth): "
          f"{1e3 * full:.2f} ms")
    print(f"{cfg.profile} training step ({cfg.model.backbone}, {images.shape[-1]} px): "
          f"{1e3 * step_s:.1f} ms")
    print(f"objective / step = {share:.2%} (target < {TARGET:.0%}): "
          f"{'met' if share < TARGET else 'MISSED'}")
    return 0 if share < TARGET else 1
