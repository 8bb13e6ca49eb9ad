"""The paper's vertex-level class-balanced (VCB) loss (section 3.3, eqs. 7-8; Table 3 "VCB loss
(Ours)"), with the progressive CB -> VCB schedule, in the paper's and the released code's form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from haco.losses.auxiliary import autocast_off
from haco.losses.balance import as_counts, cb_weights, rescale
from haco.losses.base import LOSSES, MainLoss
from haco.losses.standard import bce, per_class


@dataclass(frozen=True)
class Variant:
    min_count: float  # counts are clamped at this before the effective-number formula
    blend_max: float  # VCB share of the blend at the last epoch
    weight_sum: float  # alpha_{0,v} + alpha_{1,v} at every vertex
    fp_weight: float  # weight of the false-positive penalty mean((1 - y) p)
    blend_counts: bool  # blend the counts (release) rather than the weights (paper)
    regressed_counts: bool  # coarse levels: R @ the 778-level counts (release), not their own
    bce_on_probs: bool  # nn.BCELoss on float32 sigmoid outputs (release), not BCE with logits


VARIANTS = {
    "paper": Variant(min_count=1.0, blend_max=1.0, weight_sum=2.0, fp_weight=0.0,
                     blend_counts=False, regressed_counts=False, bce_on_probs=False),
    "release": Variant(min_count=20.0, blend_max=0.3, weight_sum=1.0, fp_weight=0.5,
                       blend_counts=True, regressed_counts=True, bce_on_probs=True),
}


def bce_on_probabilities(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Element-wise BCE the released code's way, (B, L) -> (B, L): nn.BCELoss on p =
    sigmoid(z) in float32, each log clamped at -100. Where float32 rounds p to 0 or 1
    (|z| > ~17) a wrong prediction costs 100, not |z| as with logits, and has no gradient."""
    with autocast_off(logits.device):  # autocast refuses binary_cross_entropy
        return F.binary_cross_entropy(torch.sigmoid(logits.float()), labels.float(),
                                      reduction="none")


@LOSSES.register("vcb")
class VCBLoss(MainLoss):
    """Vertex-level class-balanced sigmoid BCE (HACO, section 3.3).

    Shapes: counts (2, L) per-vertex training counts (row y = class y); logits, labels (B, L)
    -> scalar. `epoch` is 0-based; epochs past the last use the last epoch's weights.
    Release variant at a coarse level: counts (2, 778), the dense level's, and regressor
    (L, 778); the loss is then built for L (see below).

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
        coarse    n^L = R n (R the level's regressor (L, 778), n the 778-level counts just
                    made, epoch by epoch; no clamp or rescale after): the code's v_type
                    levels. `haco.losses.objective` passes the dense counts and R.
        a_{y,v}   = (1 - beta) / (1 - beta^{n_{y,v}}), normalised per vertex to sum 1 (not 2:
                    the main loss is half the paper variant's against reg and smooth)
        l         = mean alpha BCE(p, y) + 0.5 mean((1 - y) p),  p = sigmoid(z) in float32
                    and BCE the code's nn.BCELoss on probabilities (logs clamped at -100,
                    `bce_on_probabilities`); the second term penalises false positives
      The paper variant counts every level's own labels (`haco.losses.levels.level_counts`)
      and computes BCE from the logits.

    Defaults: beta = 0.9999, count_total = 1000 (see `haco.losses.balance`; None: raw counts,
    paper variant only), progressive = True, variant = "paper".
    """

    needs_counts = True

    @classmethod
    def regresses_counts(cls, variant: str = "paper", **_) -> bool:
        return variant in VARIANTS and VARIANTS[variant].regressed_counts

    def __init__(self, *, counts=None, epochs: int = 1, beta: float = 0.9999,
                 count_total: float | None = 1000.0, progressive: bool = True,
                 variant: str = "paper", regressor=None):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"loss 'vcb': variant must be one of {list(VARIANTS)}, got {variant!r}")
        if variant == "release" and count_total is None:
            raise ValueError("loss 'vcb': the release variant rescales counts; count_total "
                             "must be a number (the code's 1000)")
        if int(epochs) < 1:
            raise ValueError(f"loss 'vcb': epochs must be >= 1, got {epochs}")
        n = as_counts(counts, "vcb")
        self.regressor = _check_regressor(regressor, variant, n.shape[1])
        self.size = n.shape[1] if self.regressor is None else self.regressor.shape[0]
        self.epochs, self.progressive = int(epochs), bool(progressive)
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
            if self.regressor is not None:
                mixed = mixed @ self.regressor.T  # (2, L): R @ counts, vertices as columns
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
        fit = bce_on_probabilities if self.variant.bce_on_probs else bce
        loss = per_class(self.weights(epoch), labels) * fit(logits, labels)
        if self.variant.fp_weight:
            loss = loss + self.variant.fp_weight * (1.0 - labels) * torch.sigmoid(logits)
        return loss


def _check_regressor(regressor, variant: str, size: int) -> np.ndarray | None:
    """The coarse level's regressor (L, size) as float64, or None for a level's own counts."""
    if regressor is None:
        return None
    if not VARIANTS[variant].regressed_counts:
        raise ValueError(f"loss 'vcb': a regressor is used by the release variant only, "
                         f"not by {variant!r} (which counts each level's own labels)")
    r = np.asarray(regressor, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] != size:
        raise ValueError(f"loss 'vcb': regressor must be (L, {size}) to match the counts, "
                         f"got {r.shape}")
    return r
