"""The auxiliary terms of HACO's objective (paper appendix A.1): regularisation and smoothness.

All take 778-level contact probabilities p = sigmoid(z) (B, V); their weights (0.1 and 1 in
the paper) are applied by `haco.losses.objective.Objective`. Smoothness comes in two forms,
chosen by `loss.smooth_variant`: ours (`SmoothLoss`) and the released code's
(`ReleaseSmoothLoss`); the paper's own equations are lost from the text we have.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn


def _check_probs(probs: torch.Tensor, size: int, who: str) -> None:
    if probs.dim() != 2 or probs.shape[1] != size:
        raise ValueError(f"{who}: probabilities must be (B, {size}), got {tuple(probs.shape)}")


def autocast_off(device: torch.device):
    """Autocast disabled on `device`; a no-op on devices without autocast (e.g. meta)."""
    try:
        return torch.autocast(device.type, enabled=False)
    except RuntimeError:
        return contextlib.nullcontext()


class RegLoss(nn.Module):
    """Regularisation to the dataset-wide mean contact (appendix A.1, eq. 14).

    l = mean_{b,v} |p_bv - m_v|, m (V,) the training set's mean contact per vertex: an L1 pull
    towards typical contact patterns, against degenerate or over-confident predictions.
    Shapes: contact_mean (V,); forward(probs (B, V)) -> scalar.
    Reference: `RegLoss` in the authors' code (nn.L1Loss on sigmoid outputs).
    """

    def __init__(self, contact_mean):
        super().__init__()
        mean = torch.as_tensor(np.asarray(contact_mean), dtype=torch.float32)
        if mean.dim() != 1:
            raise ValueError(f"RegLoss: contact_mean must be (V,), got {tuple(mean.shape)}")
        self.register_buffer("contact_mean", mean)

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        _check_probs(probs, self.contact_mean.numel(), "RegLoss")
        return (probs.to(self.contact_mean.dtype) - self.contact_mean).abs().mean()


class SmoothLoss(nn.Module):
    """Smoothness loss (appendix A.1, eqs. 10-13): penalises contact that disagrees with its
    mesh neighbours, so the model favours few large contact regions over fragments.

    The extracted paper text lost the formulas; this is our reading of its words
    ("neighbourhood-smoothed estimates for contact and non-contact", "isolation score",
    "normalise by the sum of neighbourhood weights, the degree", "eps for stability"):
        c_v  = sum_u A_vu p_u            aggregated contact of the neighbours
        n_v  = sum_u A_vu (1 - p_u)      aggregated non-contact of the neighbours
        I_v  = p_v n_v + (1 - p_v) c_v   v disagrees with its neighbours, either direction
        I~_v = I_v / (d_v + eps),  d_v = sum_u A_vu (the degree)
        l    = mean_{b,v} I~_v
    For hard 0/1 maps I~_v is the share of v's neighbours with the other label, so a region
    costs only its boundary and an isolated vertex costs most.
    The authors' released `SmoothRegLoss` is a different heuristic: `ReleaseSmoothLoss`
    (`loss.smooth_variant=release`).
    Shapes: adjacency (V, V) 0/1 (scipy sparse or dense); forward(probs (B, V)) -> scalar.
    Vectorised over the batch: one dense (B, V) x (V, V) matmul (778 x 778 float32 is 2.4 MB).
    """

    def __init__(self, adjacency, eps: float = 1e-6):
        super().__init__()
        dense = adjacency.toarray() if hasattr(adjacency, "toarray") else np.asarray(adjacency)
        if dense.ndim != 2 or dense.shape[0] != dense.shape[1]:
            raise ValueError(f"SmoothLoss: adjacency must be (V, V), got {dense.shape}")
        adj = torch.as_tensor(dense.astype(np.float32))
        self.eps = float(eps)
        self.register_buffer("adjacency_t", adj.T.contiguous())  # p @ A.T: c_v = sum_u A_vu p_u
        self.register_buffer("degree", adj.sum(dim=1))

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        _check_probs(probs, self.degree.numel(), "SmoothLoss")
        p = probs.to(self.degree.dtype)
        with autocast_off(p.device):  # a bf16 matmul would round the neighbour sums
            contact = p @ self.adjacency_t
        non_contact = self.degree - contact  # sum_u A_vu (1 - p_u)
        isolation = p * non_contact + (1.0 - p) * contact
        return (isolation / (self.degree + self.eps)).mean()


def face_adjacency(faces, num_vertices: int) -> np.ndarray:
    """(V, V) float64 adjacency as the released code builds it: every face adds 1 to each of
    its three edges in both directions (an edge shared by two faces counts 2, a boundary
    edge 1), plus 1 on the diagonal (self-loops)."""
    f = np.asarray(faces, dtype=np.int64)
    if f.ndim != 2 or f.shape[1] != 3 or f.min() < 0 or f.max() >= num_vertices:
        raise ValueError(f"faces must be (F, 3) vertex ids below {num_vertices}, got {f.shape}")
    a = np.eye(num_vertices)
    for i, j in ((0, 1), (1, 2), (2, 0)):
        np.add.at(a, (f[:, i], f[:, j]), 1.0)  # add.at: repeated edges accumulate
        np.add.at(a, (f[:, j], f[:, i]), 1.0)
    return a


class ReleaseSmoothLoss(nn.Module):
    """The released code's smoothness term (`SmoothRegLoss` in dqj5182/HACO_RELEASE,
    lib/core/loss.py), restated; `loss.smooth_variant=release`. The release applies it to the
    778-level probabilities only, with weight 1, as `Objective` does.

    With A the face adjacency with self-loops (`face_adjacency`), per sample and for
    q = p (contact) and q = 1 - p (non-contact):
        s_q   = A q                                     propagated map (V,)
        iso_q = sum_v | q_v - s_q,v / (max_u s_q,u + 1e-6) |
        r     = (iso_p + iso_{1-p}) / (sum_v s_p,v + sum_v s_{1-p},v + 1e-3)
        l     = mean_b log1p(r_b)
    (sum_v s_p + sum_v s_{1-p} = sum of A's entries, a constant of the mesh.)
    Shapes: faces (F, 3); forward(probs (B, V)) -> scalar. Dense float32 matmul in place of
    the release's per-sample sparse products: the same sums, up to float32 rounding.
    """

    def __init__(self, faces, num_vertices: int):
        super().__init__()
        adjacency = torch.as_tensor(face_adjacency(faces, num_vertices), dtype=torch.float32)
        self.register_buffer("adjacency_t", adjacency.T.contiguous())  # q @ A.T = (A q)^T

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        _check_probs(probs, self.adjacency_t.shape[0], "ReleaseSmoothLoss")
        p = probs.to(self.adjacency_t.dtype)
        with autocast_off(p.device):
            isolation, size = zip(*(self._propagate(q) for q in (p, 1.0 - p)))
        ratio = sum(isolation) / (sum(size) + 1e-3)
        return torch.log1p(ratio).mean()

    def _propagate(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q (B, V) -> (isolation score (B,), propagated mass (B,))."""
        spread = q @ self.adjacency_t
        peak = spread.max(dim=1, keepdim=True).values
        isolation = (q - spread / (peak + 1e-6)).abs().sum(dim=1)
        return isolation, spread.sum(dim=1)
