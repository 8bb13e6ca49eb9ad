"""HACO's full training objective (paper section 3.4): the main loss at every level, plus the
regularisation and smoothness terms on the 778-level probabilities.

    total = sum_L main(logits[L], labels_L, epoch) + reg_weight reg(p) + smooth_weight smooth(p)

with labels_L the any-rule coarse labels and p = sigmoid(logits[778]). Level weights are 1,
reg_weight 0.1 and smooth_weight 1 in the paper (and in the released code, which also applies
smoothness to the 778 level only). `smooth_variant` picks the smoothness formula: ours
(`SmoothLoss`, from the adjacency) or the release's (`ReleaseSmoothLoss`, from the faces).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from haco.hand import NUM_VERTICES
from haco.losses.auxiliary import RegLoss, ReleaseSmoothLoss, SmoothLoss
from haco.losses.base import LOSSES, build_loss
from haco.losses.levels import coarse_labels

DEFAULT_LEVELS = (778, 336, 84, 21)
CONFIG_KEYS = {  # the keys of a loss config, with their defaults (`name` has none)
    "name": None, "levels": list(DEFAULT_LEVELS), "reg_weight": 0.1, "smooth_weight": 1.0,
    "params": {}, "smooth_variant": "ours",
}
SMOOTH_VARIANTS = ("ours", "release")


class Objective(nn.Module):
    """forward(logits {L: (B, L)}, labels (B, 778), epoch) -> (total, {term name: scalar}).

    Term names: "<loss name>/<level>" (e.g. "vcb/336"), "reg", "smooth". Build it with
    `build_objective`; all tensors it holds are buffers, so `.to(device)` moves everything.
    """

    def __init__(self, name: str, mains: Mapping[int, nn.Module],
                 memberships: Mapping[int, torch.Tensor], reg: RegLoss, smooth: nn.Module,
                 reg_weight: float, smooth_weight: float):
        super().__init__()
        self.name, self.levels = name, list(mains)
        self.mains = nn.ModuleDict({str(level): loss for level, loss in mains.items()})
        for level, membership in memberships.items():
            self.register_buffer(f"membership_{level}", membership.bool())
        self.reg, self.smooth = reg, smooth
        self.reg_weight, self.smooth_weight = float(reg_weight), float(smooth_weight)

    @property
    def term_names(self) -> list[str]:
        return [f"{self.name}/{level}" for level in self.levels] + ["reg", "smooth"]

    def level_labels(self, labels: torch.Tensor, level: int) -> torch.Tensor:
        if level == NUM_VERTICES:
            return labels
        return coarse_labels(labels, getattr(self, f"membership_{level}"))

    def forward(self, logits: Mapping[int, torch.Tensor], labels: torch.Tensor,
                epoch: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        missing = [level for level in {*self.levels, NUM_VERTICES} if level not in logits]
        if missing:
            raise KeyError(f"objective needs logits for levels {sorted(missing)}; "
                           f"got levels {sorted(logits)}")
        labels, terms = labels.float(), {}
        for level in self.levels:
            target = self.level_labels(labels, level)
            terms[f"{self.name}/{level}"] = self.mains[str(level)](logits[level], target, epoch)
        main = sum(terms.values())
        probs = torch.sigmoid(logits[NUM_VERTICES].float())
        terms["reg"], terms["smooth"] = self.reg(probs), self.smooth(probs)
        total = main + self.reg_weight * terms["reg"] + self.smooth_weight * terms["smooth"]
        return total, terms


def _plain(loss_cfg) -> dict:
    """A DictConfig (resolved) or a mapping -> a plain dict."""
    if isinstance(loss_cfg, DictConfig):
        return OmegaConf.to_container(loss_cfg, resolve=True)
    return dict(loss_cfg)


def parse_config(loss_cfg) -> dict:
    """Validate a loss config and fill in its defaults; errors name the bad key."""
    cfg = _plain(loss_cfg)
    unknown = sorted(set(cfg) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(f"loss config: unknown key(s) {unknown}; accepted: {sorted(CONFIG_KEYS)}")
    if not cfg.get("name"):
        raise ValueError(f"loss config needs a `name`, one of: {', '.join(LOSSES)}")
    LOSSES[cfg["name"]]  # an unknown name raises KeyError listing the known ones
    cfg = {**CONFIG_KEYS, **{k: v for k, v in cfg.items() if v is not None}}
    cfg["params"] = dict(cfg["params"] or {})
    cfg["levels"] = [int(level) for level in cfg["levels"]]
    if not cfg["levels"] or len(set(cfg["levels"])) != len(cfg["levels"]):
        raise ValueError(f"loss config: levels must be distinct and non-empty, got {cfg['levels']}")
    if cfg["smooth_variant"] not in SMOOTH_VARIANTS:
        raise ValueError(f"loss config: smooth_variant must be one of {list(SMOOTH_VARIANTS)}, "
                         f"got {cfg['smooth_variant']!r}")
    return cfg


def _level_counts(counts, level: int, name: str):
    if not LOSSES[name].needs_counts:
        return None
    if not counts or level not in counts:
        raise ValueError(f"loss {name!r} needs class counts for level {level}; "
                         f"got levels {sorted(counts or {})}")
    return counts[level]


def _main_loss(cfg: dict, level: int, counts, regressors, epochs: int) -> nn.Module:
    """The main loss of one level. A loss that `regresses_counts` (VCB, release variant)
    builds a coarse level from the 778-level counts and the level's regressor, as the
    released code does; every other loss from the level's own counts."""
    name, params = cfg["name"], cfg["params"]
    if level != NUM_VERTICES and LOSSES[name].regresses_counts(**params):
        return build_loss(name, _level_counts(counts, NUM_VERTICES, name), epochs,
                          regressor=regressors[level], **params)
    return build_loss(name, _level_counts(counts, level, name), epochs, **params)


def _smooth_loss(variant: str, adjacency, faces) -> nn.Module:
    if variant == "ours":
        return SmoothLoss(adjacency)
    if faces is None:
        raise ValueError("loss config: smooth_variant=release builds its adjacency from the "
                         "mesh faces; pass faces=hand.faces to build_objective")
    return ReleaseSmoothLoss(faces, adjacency.shape[0])


def build_objective(loss_cfg, counts: Mapping[int, object] | None, contact_mean,
                    regressors: Mapping[int, object], adjacency, epochs: int,
                    faces=None) -> Objective:
    """The Objective described by `loss_cfg` (keys: name, levels, reg_weight, smooth_weight,
    smooth_variant, params), with class counts {L: (2, L)} and the contact mean (778,) of the
    training data, the hand's regressors {L: (L, 778)}, adjacency (778, 778) and faces (F, 3)
    (needed by smooth_variant=release only), and the number of epochs.
    """
    cfg = parse_config(loss_cfg)
    bad = [level for level in cfg["levels"] if level != NUM_VERTICES and level not in regressors]
    if bad:
        raise ValueError(f"loss config: levels {bad} have no regressor; "
                         f"available: {[NUM_VERTICES, *sorted(regressors)]}")
    mains = {level: _main_loss(cfg, level, counts, regressors, epochs) for level in cfg["levels"]}
    memberships = {level: torch.as_tensor(regressors[level] > 0)
                   for level in cfg["levels"] if level != NUM_VERTICES}
    smooth = _smooth_loss(cfg["smooth_variant"], adjacency, faces)
    return Objective(cfg["name"], mains, memberships, RegLoss(contact_mean), smooth,
                     cfg["reg_weight"], cfg["smooth_weight"])
