"""The paper's vertex-level class-balanced (VCB) loss (section 3.3, eqs. 7-8; Table 3 "VCB loss
(Ours)"), with the progressive CB -> VCB schedule, in the paper's and the released code's form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from haco.losses.balance import as_counts, cb_weights, rescale
from haco.losses.base import LOSSES, MainLoss
from haco.losses.main import bce, per_class


@dataclass(frozen=True)
class Variant:
    min_count: float  # counts are clamped at this before the effective-number formula
    blend_max: float  # VCB share of the blend at the last epoch
    weight_sum: float  # alpha_{0,v} + alpha_{1,v} at every vertex
    fp_weight: float  # weight of the false-positive penalty mean((1 - y) p)
    blend_counts: bool  # blend the counts (release) rather than the weights (paper)


VARIANTS = {
    "paper": Variant(min_count=1.0, blend_max=1.0, weight_sum=2.0, fp_weight=0.0,
                     blend_counts=False),
    "release": Variant(min_count=20.0, blend_max=0.3, weight_sum=1.0, fp_weight=0.5,
                       blend_counts=True),
}


@LOSSES.register("vcb")
class VCBLoss(MainLoss):
    """Vertex-level class-balanced sigmoid BCE (HACO, section 3.3).

    Shapes: counts (2, L) per-vertex training counts (row y = class y); logits, labels (B, L)
    -> scalar. `epoch` is 0-based; epochs past the last use the last epoch's weights.

    variant="paper" (eqs. 7-8 plus the authors' description of the schedule):
        n_{y,v}   = counts[y, v] rescaled so n_{0,v} + n_{1,v} = count_total, clamped >= 1
        a_{y,v}   = (1 - beta) / (1 - beta^{n_{y,v}}), normalised per vertex so
                    a_{0,v} + a_{1,v} = 2 (Cui et al.'s normalisation, applied per vertex)
        a_y^CB    = the same from the global counts counts.sum(axis=1) (= `CBLoss`'s weights)
        w(epoch)  = epoch / (epochs - 1)  (1 when epochs == 1; always 1 if not progressive)
        alpha     = (1 - w) a^CB + w a^VCB   ("early training: only the global CB loss; the
                    VCB weight grows linearly and peaks at the final epoch")
        l         = mean_{b,v} alpha_{y_bv, v} BCE(z_bv, y_bv)
      so epoch 0 is exactly `CBLoss` and the last epoch pure vertex-level weighting.

    variant="release" (`VCBLoss` in the authors' released code, dqj5182/HACO_RELEASE):
        per-vertex and global counts each rescaled to total count_total (the code's 1000)
        w(epoch)  = 0.3 * epoch / (epochs - 1)   (the blend never exceeds 0.3)
        n_v       = w n_v^VCB + (1 - w) n^CB, blended in count space, clamped >= 20 and
                    rescaled again to count_total, then used as they are (a rescaled
                    count can fall below 20 again: the code does not clamp twice)
        a_{y,v}   = (1 - beta) / (1 - beta^{n_{y,v}}), normalised per vertex to sum 1 (not 2:
                    the main loss is half the paper variant's against reg and smooth)
        l         = mean alpha BCE + 0.5 mean((1 - y) p)   (false-positive penalty)
      Not reproduced: the code takes coarse-level counts as R @ (778-level counts); here every
      level uses its own counts (`haco.losses.levels.level_counts`), and BCE is computed from
      logits (the code's nn.BCELoss on probabilities clamps log at -100).

    Defaults: beta = 0.9999, count_total = 1000 (see `haco.losses.balance`; None: raw counts,
    paper variant only), progressive = True, variant = "paper".
    """

    needs_counts = True

    def __init__(self, *, counts=None, epochs: int = 1, beta: float = 0.9999,
                 count_total: float | None = 1000.0, progressive: bool = True,
                 variant: str = "paper"):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"loss 'vcb': variant must be one of {list(VARIANTS)}, got {variant!r}")
        if variant == "release" and count_total is None:
            raise ValueError("loss 'vcb': the release variant rescales counts; count_total "
                             "must be a number (the code's 1000)")
        if int(epochs) < 1:
            raise ValueError(f"loss 'vcb': epochs must be >= 1, got {epochs}")
        n = as_counts(counts, "vcb")
        self.size, self.epochs, self.progressive = n.shape[1], int(epochs), bool(progressive)
        self.beta, self.count_total, self.variant = beta, count_total, VARIANTS[variant]
        table = np.stack([self._weights(n, e) for e in range(self.epochs)])
        # one (2, L) weight table per epoch, computed once: the forward only indexes it
        self.register_buffer("epoch_weights", torch.tensor(table, dtype=torch.float32))

    def blend(self, epoch: int) -> float:
        """w(epoch): the vertex-level share of the weights (or counts, release variant)."""
        ramp = min(epoch / (self.epochs - 1), 1.0) if self.epochs > 1 else 1.0
        return self.variant.blend_max * (ramp if self.progressive else 1.0)

    def _weights(self, n: np.ndarray, epoch: int) -> np.ndarray:
        v, w = self.variant, self.blend(epoch)
        vertex = rescale(n, self.count_total)
        glob = rescale(n.sum(axis=1, keepdims=True), self.count_total)  # (2, 1), broadcasts
        if v.blend_counts:
            # the release clamps the blend at 20 and rescales it; the rescaled counts are used
            # as they are, some below 20 again (no second clamp: issue 15's bug)
            mixed = rescale(np.maximum(w * vertex + (1 - w) * glob, v.min_count), self.count_total)
            return cb_weights(mixed, self.beta, 0.0, v.weight_sum)
        per_vertex = cb_weights(vertex, self.beta, v.min_count, v.weight_sum)
        return (1 - w) * cb_weights(glob, self.beta, v.min_count, v.weight_sum) + w * per_vertex

    def weights(self, epoch: int) -> torch.Tensor:
        """alpha (2, L) used at `epoch` (0-based; clamped to the last epoch)."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        return self.epoch_weights[min(int(epoch), self.epochs - 1)]

    def elementwise(self, logits, labels, epoch):
        self.check_level(logits, self.size)
        loss = per_class(self.weights(epoch), labels) * bce(logits, labels)
        if self.variant.fp_weight:
            loss = loss + self.variant.fp_weight * (1.0 - labels) * torch.sigmoid(logits)
        return loss
