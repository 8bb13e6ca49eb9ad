"""The loss registry and the base class every main (per-level contact) loss derives from.

A main loss is built as `LOSSES[name](counts=..., epochs=..., **hyperparams)` and called as
`loss(logits (B, L), labels (B, L) 0/1, epoch) -> scalar` (mean over batch and vertices).
`build_loss` is the checked way in: an unknown hyperparameter names the loss, the key and
the accepted keys instead of Python's bare "unexpected keyword argument".
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from haco.registry import Registry

LOSSES: Registry[type[nn.Module]] = Registry("loss")

_BUILD_ARGS = ("counts", "epochs", "regressor")  # passed by the objective, not hyperparameters


class MainLoss(nn.Module):
    """Base of the ten main losses: shape checks, float32 maths, mean over batch and vertices.

    Subclasses implement `elementwise(logits, labels, epoch) -> (B, L)`. `counts` (2, L) and
    `epochs` are accepted by every loss so that all are built alike; losses that use neither
    ignore them.
    """

    needs_counts = False  # True: `counts` (training-data class counts) is required

    @classmethod
    def regresses_counts(cls, **params) -> bool:
        """True where a coarse level of this loss, with these hyperparameters, is built from
        the 778-level counts and the level's regressor (`regressor=`) rather than from its
        own counts (VCB's release variant)."""
        return False

    def __init__(self, *, counts=None, epochs: int = 1):
        super().__init__()

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, epoch: int = 0) -> torch.Tensor:
        if logits.dim() != 2 or logits.shape != labels.shape:
            raise ValueError(f"{type(self).__name__}: logits {tuple(logits.shape)} and labels "
                             f"{tuple(labels.shape)} must both be (B, L)")
        # float32 even under autocast: exp/log of half-precision logits overflow
        return self.elementwise(logits.float(), labels.float(), epoch).mean()

    def elementwise(self, logits: torch.Tensor, labels: torch.Tensor, epoch: int) -> torch.Tensor:
        raise NotImplementedError

    def check_level(self, logits: torch.Tensor, size: int) -> None:
        """Count-based losses are built for one level; refuse logits of another."""
        if logits.shape[1] != size:
            raise ValueError(f"{type(self).__name__} was built for L={size} (its counts), "
                             f"got logits with L={logits.shape[1]}")


def loss_params(name: str) -> list[str]:
    """The hyperparameters loss `name` accepts (its constructor's keywords minus counts/epochs)."""
    signature = inspect.signature(LOSSES[name])
    return [p for p in signature.parameters if p not in _BUILD_ARGS]


def build_loss(name: str, counts=None, epochs: int = 1, regressor=None, **params) -> nn.Module:
    """LOSSES[name](counts=counts, epochs=epochs, **params), with clear errors for bad keys.

    `regressor` (L, 778) is passed on only when given: the losses that `regresses_counts`
    take it with the 778-level counts to build a coarse level L."""
    accepted = loss_params(name)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise TypeError(f"loss {name!r}: unknown hyperparameter(s) {unknown}; "
                        f"accepted: {accepted or 'none'}")
    extra = {} if regressor is None else {"regressor": regressor}
    return LOSSES[name](counts=counts, epochs=epochs, **extra, **params)
