"""The baseline losses of the paper's loss ablation (Table 3), binary and per vertex.

Every loss maps logits z (B, L) and 0/1 labels y (B, L) to the mean over batch and vertices
of an element-wise term, with p = sigmoid(z) and p_t = p where y = 1, 1 - p where y = 0.
Reference implementations reduce by sum or by the number of positives; the mean is used for
all of them so the ten losses share one scale convention.
The paper's own loss, VCB, lives in `haco.losses.vcb`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from haco.losses.balance import as_counts, cb_weights, ldam_margins, rescale
from haco.losses.base import LOSSES, MainLoss


def bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Element-wise BCE with logits, (B, L) -> (B, L)."""
    return F.binary_cross_entropy_with_logits(logits, labels, reduction="none")


def focal_modulator(logits: torch.Tensor, labels: torch.Tensor, gamma: float) -> torch.Tensor:
    """(1 - p_t)^gamma in Cui et al.'s stable form exp(-gamma * (y z + log(1 + e^-z)))."""
    return torch.exp(-gamma * (labels * logits + F.softplus(-logits)))


def per_class(weights: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """weights (2, ...) picked by the 0/1 labels (B, L): w[1] where y = 1, w[0] where y = 0."""
    return labels * weights[1] + (1.0 - labels) * weights[0]


@LOSSES.register("ce")
class CELoss(MainLoss):
    """Binary cross-entropy (Table 3 "CE loss").

    l = -[y log p + (1 - y) log(1 - p)], computed from the logits for stability.
    Shapes: logits, labels (B, L) -> scalar. Reference: F.binary_cross_entropy_with_logits.
    No hyperparameters.
    """

    def elementwise(self, logits, labels, epoch):
        return bce(logits, labels)


@LOSSES.register("l1")
class L1Loss(MainLoss):
    """L1 on probabilities (Table 3 "L1 loss"): l = |sigmoid(z) - y|.

    Shapes: logits, labels (B, L) -> scalar. Reference: nn.L1Loss on sigmoid outputs.
    No hyperparameters.
    """

    def elementwise(self, logits, labels, epoch):
        return (torch.sigmoid(logits) - labels).abs()


@LOSSES.register("l2")
class L2Loss(MainLoss):
    """L2 on probabilities (Table 3 "L2 loss"): l = (sigmoid(z) - y)^2.

    Shapes: logits, labels (B, L) -> scalar. Reference: nn.MSELoss on sigmoid outputs.
    No hyperparameters.
    """

    def elementwise(self, logits, labels, epoch):
        return (torch.sigmoid(logits) - labels) ** 2


@LOSSES.register("focal")
class FocalLoss(MainLoss):
    """Sigmoid focal loss (Lin et al. 2017, "Focal loss for dense object detection").

    l = -alpha_t (1 - p_t)^gamma log p_t, alpha_t = alpha where y = 1, 1 - alpha where y = 0.
    Shapes: logits, labels (B, L) -> scalar. Reference: torchvision.ops.sigmoid_focal_loss
    (RetinaNet), reduced by the mean.
    Defaults: gamma = 2, alpha = 0.25, the reference's: the gamma term already suppresses the
    many easy negatives, and alpha = 0.25 was RetinaNet's best setting with it, even though
    it down-weights the rare positive class. alpha < 0 disables alpha weighting.
    """

    def __init__(self, *, counts=None, epochs: int = 1, gamma: float = 2.0, alpha: float = 0.25):
        super().__init__()
        self.gamma, self.alpha = float(gamma), float(alpha)

    def elementwise(self, logits, labels, epoch):
        loss = focal_modulator(logits, labels, self.gamma) * bce(logits, labels)
        if self.alpha >= 0:
            loss = loss * (labels * self.alpha + (1.0 - labels) * (1.0 - self.alpha))
        return loss


@LOSSES.register("cb")
class CBLoss(MainLoss):
    """Class-balanced sigmoid BCE (Cui et al. 2019; Table 3 "CB loss").

    l = alpha_y * BCE(z, y), alpha_y = (1 - beta) / (1 - beta^{n_y}), normalised so that
    alpha_0 + alpha_1 = 2 (the number of classes), n_y the global class counts
    counts.sum(axis=1) rescaled to n_0 + n_1 = count_total (see `haco.losses.balance` for why).
    Shapes: counts (2, L); logits, labels (B, L) -> scalar.
    Reference: Cui et al., CVPR 2019, and their code (sigmoid CB loss).
    Defaults: beta = 0.9999 (the paper's), count_total = 1000 (None: raw counts).
    """

    needs_counts = True

    def __init__(self, *, counts=None, epochs: int = 1, beta: float = 0.9999,
                 count_total: float | None = 1000.0):
        super().__init__()
        n = as_counts(counts, "cb")
        self.size = n.shape[1]
        weights = cb_weights(rescale(n.sum(axis=1), count_total), beta)
        self.register_buffer("class_weights", torch.tensor(weights, dtype=torch.float32))

    def elementwise(self, logits, labels, epoch):
        self.check_level(logits, self.size)
        return per_class(self.class_weights, labels) * bce(logits, labels)


@LOSSES.register("cb_focal")
class CBFocalLoss(CBLoss):
    """Class-balanced focal loss (Cui et al. 2019; Table 3 "CB Focal loss").

    l = alpha_y (1 - p_t)^gamma BCE(z, y), alpha_y the CB weights of `CBLoss` and the focal
    term in the stable form of Cui et al.'s code (no focal alpha: the CB weights replace it).
    Shapes: counts (2, L); logits, labels (B, L) -> scalar.
    Reference: Cui et al., CVPR 2019, `focal_loss` in their released code.
    Defaults: beta = 0.9999, gamma = 2, count_total = 1000.
    """

    def __init__(self, *, counts=None, epochs: int = 1, beta: float = 0.9999, gamma: float = 2.0,
                 count_total: float | None = 1000.0):
        super().__init__(counts=counts, beta=beta, count_total=count_total)
        self.gamma = float(gamma)

    def elementwise(self, logits, labels, epoch):
        self.check_level(logits, self.size)
        modulated = focal_modulator(logits, labels, self.gamma) * bce(logits, labels)
        return per_class(self.class_weights, labels) * modulated


@LOSSES.register("ldam")
class LDAMLoss(MainLoss):
    """Label-distribution-aware margin loss (Cao et al. 2019), adapted to one sigmoid logit.

    Margins Delta_y = C n_y^(-1/4) from the global class counts, C such that the largest is
    max_margin. The true class is made harder by its margin: z' = z - Delta_1 where y = 1,
    z' = z + Delta_0 where y = 0; l = BCE(s z', y).
    Shapes: counts (2, L); logits, labels (B, L) -> scalar.
    Reference: Cao et al., NeurIPS 2019, `LDAMLoss` in their code (max_m = 0.5, s = 30); no
    deferred re-weighting (DRW), Table 3 compares the loss alone.
    Defaults: max_margin = 0.5, s = 1. The reference s = 30 assumes cosine-normalised logits
    in [-1, 1]; the contact head's logits are raw (unnormalised), so scaling them by 30 would
    only sharpen the sigmoid 30-fold. Counts need no `count_total`: margins are scale-free.
    """

    needs_counts = True

    def __init__(self, *, counts=None, epochs: int = 1, max_margin: float = 0.5, s: float = 1.0):
        super().__init__()
        n = as_counts(counts, "ldam")
        self.size, self.s = n.shape[1], float(s)
        margins = ldam_margins(n.sum(axis=1), max_margin)
        self.register_buffer("margins", torch.tensor(margins, dtype=torch.float32))

    def elementwise(self, logits, labels, epoch):
        self.check_level(logits, self.size)
        shifted = logits - labels * self.margins[1] + (1.0 - labels) * self.margins[0]
        return bce(self.s * shifted, labels)


@LOSSES.register("asl")
class AsymmetricLoss(MainLoss):
    """Asymmetric loss (Ridnik et al. 2021; Table 3 "Asymmetric loss").

    p_m = max(p - clip, 0) (probability shifting of negatives);
    l = -[y (1 - p)^gamma_pos log p + (1 - y) p_m^gamma_neg log(1 - p_m)], logs clamped at
    eps = 1e-8 as the reference does. Gradients flow through the focusing weights, as in the
    reference's `AsymmetricLoss` (its no-grad switch is commented out).
    Shapes: logits, labels (B, L) -> scalar.
    Reference: `AsymmetricLoss` in Alibaba-MIIL/ASL (reduced by the mean instead of the sum).
    Defaults: gamma_neg = 4, gamma_pos = 1, clip = 0.05 (the reference's multi-label values).
    """

    eps = 1e-8

    def __init__(self, *, counts=None, epochs: int = 1, gamma_neg: float = 4.0,
                 gamma_pos: float = 1.0, clip: float = 0.05):
        super().__init__()
        self.gamma_neg, self.gamma_pos, self.clip = float(gamma_neg), float(gamma_pos), float(clip)

    def elementwise(self, logits, labels, epoch):
        p = torch.sigmoid(logits)
        p_m = (p - self.clip).clamp(min=0.0)
        positive = (1.0 - p) ** self.gamma_pos * torch.log(p.clamp(min=self.eps))
        negative = p_m ** self.gamma_neg * torch.log((1.0 - p_m).clamp(min=self.eps))
        return -(labels * positive + (1.0 - labels) * negative)


@LOSSES.register("poly")
class PolyLoss(MainLoss):
    """Poly-1 loss (Leng et al. 2022; Table 3 "Poly loss"): l = BCE(z, y) + epsilon (1 - p_t).

    Shapes: logits, labels (B, L) -> scalar.
    Reference: Leng et al., ICLR 2022, Poly-1 on the sigmoid cross-entropy.
    Defaults: epsilon = 1.
    """

    def __init__(self, *, counts=None, epochs: int = 1, epsilon: float = 1.0):
        super().__init__()
        self.epsilon = float(epsilon)

    def elementwise(self, logits, labels, epoch):
        p = torch.sigmoid(logits)
        p_t = labels * p + (1.0 - labels) * (1.0 - p)
        return bce(logits, labels) + self.epsilon * (1.0 - p_t)
