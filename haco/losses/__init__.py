"""HACO's losses: the ten main losses of the loss ablation (Table 3), the auxiliary terms, the
multi-level supervision helpers and the full objective.

    from haco.losses import LOSSES, build_objective
    loss = LOSSES["vcb"](counts=counts_778, epochs=10)        # (2, 778) training counts
    objective = build_objective(cfg.loss, counts, contact_mean, hand.regressors,
                                hand.adjacency, epochs=10, faces=hand.faces)
    total, terms = objective(logits_by_level, labels, epoch)
"""

from haco.losses import standard, vcb  # noqa: F401  (fill LOSSES)
from haco.losses.auxiliary import RegLoss, ReleaseSmoothLoss, SmoothLoss
from haco.losses.base import LOSSES, MainLoss, build_loss, loss_params
from haco.losses.levels import coarse_labels, level_counts
from haco.losses.objective import DEFAULT_LEVELS, Objective, build_objective, parse_config

__all__ = [
    "DEFAULT_LEVELS", "LOSSES", "MainLoss", "Objective", "RegLoss", "ReleaseSmoothLoss",
    "SmoothLoss", "build_loss", "build_objective", "coarse_labels", "level_counts",
    "loss_params", "parse_config",
]
