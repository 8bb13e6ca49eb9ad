"""The pretraining network: a contact model's backbone plus three small heads.

    images (B,3,H,W) in [0,1] -> ImageNet normalisation -> backbone tokens (B,N,C)
      -> mean token -> MLP -> keypoints (B,84,3) in the camera's view
      -> mean token -> MLP -> pose (B,84,3) in the hand's own frame
      -> tokens as a (B,C,h,w) grid -> conv, upsample x2 -> (B,4,T,T): 3 segment logits
         and the depth map

Only the backbone is kept: `train.py` saves its weights in timm's layout, which
`model.pretrained` loads like any other backbone checkpoint.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from haco.model.backbones import BACKBONES
from haco.model.haco import IMAGENET_MEAN, IMAGENET_STD
from haco.pretrain.samples import KEYPOINT_LEVEL

SEGMENT_CLASSES = 3  # background, hand, anything else
LOSS_TERMS = ("keypoints", "pose", "segment", "depth")  # the names `losses` returns


class PretrainNet(nn.Module):
    def __init__(self, backbone: str, target_size: int, hidden: int = 512):
        super().__init__()
        self.backbone = BACKBONES[backbone].build()
        channels = self.backbone.channels
        self.target_size = target_size
        self.keypoints = point_head(channels, hidden)
        self.pose = point_head(channels, hidden)
        self.dense_in = nn.Sequential(nn.Conv2d(channels, 128, 3, padding=1), nn.GELU())
        self.dense_out = nn.Sequential(nn.Conv2d(128, 64, 3, padding=1), nn.GELU(),
                                       nn.Conv2d(64, SEGMENT_CLASSES + 1, 3, padding=1))
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """-> {keypoints, pose: (B, 84, 3); dense: (B, 4, T, T) segment logits, then depth}."""
        tokens = self.backbone((images - self.pixel_mean) / self.pixel_std)
        pooled = tokens.mean(1)
        points = {name: getattr(self, name)(pooled).unflatten(1, (KEYPOINT_LEVEL, 3))
                  for name in ("keypoints", "pose")}
        dense = self.dense_in(as_grid(tokens))
        half = self.target_size // 2
        dense = F.interpolate(dense, size=(half, half), mode="bilinear", align_corners=False)
        dense = self.dense_out(dense)
        return {**points, "dense": F.interpolate(dense, size=(self.target_size,) * 2,
                                                 mode="bilinear", align_corners=False)}


def point_head(channels: int, hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(channels, hidden), nn.GELU(),
                         nn.Linear(hidden, KEYPOINT_LEVEL * 3))


def as_grid(tokens: torch.Tensor) -> torch.Tensor:
    """(B, N, C) tokens of a square feature map, after at most one leading class token
    -> (B, C, h, w). Other layouts (HaMeR's 16x12 ViT-H grid) are refused, not guessed."""
    side = math.isqrt(tokens.shape[1])
    extra = tokens.shape[1] - side * side
    if extra > 1:
        raise ValueError(f"the pretraining heads need a square token grid; this backbone "
                         f"gives {tokens.shape[1]} tokens. Pretrain a CNN or square ViT, or "
                         "load real weights with model.pretrained=<path>")
    return tokens[:, extra:].transpose(1, 2).unflatten(2, (side, side))


def losses(net: PretrainNet, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """{keypoints, pose: L1; segment: cross-entropy; depth: L1 on the foreground} of one
    batch (images (B,3,H,W) floats in [0,1]; targets as samples.py makes them)."""
    out = net(batch["image"])
    dense = out["dense"]
    foreground = (batch["segment"] > 0).float()
    depth_error = (dense[:, SEGMENT_CLASSES] - batch["depth"]).abs() * foreground
    return {"keypoints": (out["keypoints"] - batch["keypoints"]).abs().mean(),
            "pose": (out["pose"] - batch["pose"]).abs().mean(),
            "segment": F.cross_entropy(dense[:, :SEGMENT_CLASSES], batch["segment"].long()),
            "depth": depth_error.sum() / foreground.sum().clamp(min=1)}
