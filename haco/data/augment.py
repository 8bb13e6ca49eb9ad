"""The paper's training augmentations as batched torch ops, on the images' own device.

Section 5.1: "Following HaMeR, we apply data augmentations including random scaling,
cropping, and rotation. To improve robustness to degraded inputs, we additionally perform
low-resolution, noise, and blur augmentations." Order: geometry, low resolution, blur,
noise (noise last, so blur does not smooth it away); values are clamped to [0, 1].

Labels are untouched: contact is a property of the hand's 778 vertices, not of pixel
positions, so moving, scaling or rotating the picture leaves every vertex's label as it
was. (Horizontal flips would not: they turn a right hand into a left one; the paper lists
none, and neither do we.)

Every op handles the whole batch at once (no Python loop over samples), and every random
number comes from the caller's generator, so a batch's augmentation is reproducible.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# Low resolution draws its factor from this many discrete levels in [low_res_min, 1):
# samples sharing a level are resized together, so the loop runs over levels, not samples.
LOW_RES_LEVELS = 4


def augment(images: torch.Tensor, cfg, generator: torch.Generator) -> torch.Tensor:
    """Randomly scale, shift, rotate, downsample, blur and noise a batch.

    Args:
        images: (B, 3, H, W) float in [0, 1], on any device.
        cfg: `loader.augment` (scale, translate, rotate_deg, low_res_*, noise_*, blur_*).
        generator: source of every random number; on the images' device it saves a copy.
    Returns:
        (B, 3, H, W) of the input's dtype and device; the input itself when disabled.
    """
    if not cfg.enabled:
        return images
    if images.ndim != 4 or not images.is_floating_point():
        raise ValueError(f"images must be float (B, C, H, W), got {images.dtype} "
                         f"{tuple(images.shape)}; convert uint8 with .float() / 255")
    draw = _Draw(generator, images.shape[0], images.device)
    out = geometric(images, draw.uniform(*cfg.scale), draw.uniform(-1, 1, 2) * cfg.translate,
                    draw.uniform(-1, 1) * cfg.rotate_deg)
    levels = torch.linspace(cfg.low_res_min, 1.0, LOW_RES_LEVELS + 1)[:-1].tolist()
    level = draw.integers(len(levels))
    out = low_resolution(out, torch.where(draw.chance(cfg.low_res_prob), level, -1), levels)
    sigma = draw.uniform(*cfg.blur_sigma)
    out = blur(out, torch.where(draw.chance(cfg.blur_prob), sigma, 0.0))
    std = torch.where(draw.chance(cfg.noise_prob), float(cfg.noise_std), 0.0)
    out = out + std.view(-1, 1, 1, 1).to(out.dtype) * draw.normal(out.shape).to(out.dtype)
    return out.clamp_(0.0, 1.0)


class _Draw:
    """Per-sample random numbers from one generator, moved to the images' device."""

    def __init__(self, generator: torch.Generator, batch: int, device: torch.device):
        self.generator, self.batch, self.device = generator, batch, device

    def _to(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device)

    def uniform(self, low: float, high: float, *extra: int) -> torch.Tensor:
        u = torch.rand((self.batch, *extra), generator=self.generator,
                       device=self.generator.device)
        return self._to(low + (high - low) * u)

    def chance(self, p: float) -> torch.Tensor:
        return self.uniform(0.0, 1.0) < p

    def integers(self, high: int) -> torch.Tensor:
        return self._to(torch.randint(high, (self.batch,), generator=self.generator,
                                      device=self.generator.device))

    def normal(self, shape) -> torch.Tensor:
        return self._to(torch.randn(shape, generator=self.generator,
                                    device=self.generator.device))


def geometric(images: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor,
              degrees: torch.Tensor) -> torch.Tensor:
    """Zoom by `scale` (B,), shift the crop by `shift` (B, 2) image fractions (x, y) and
    rotate by `degrees` (B,) about the centre: one affine_grid + grid_sample, border padding.

    The grid maps each output pixel to the input point it shows. Rotation is done in pixel
    units (not in the [-1, 1] grid units, which stretch a non-square image's axes).
    """
    b, _, h, w = images.shape
    theta = torch.deg2rad(degrees.float())
    cos, sin = torch.cos(theta) / scale, torch.sin(theta) / scale
    aspect = w / h  # grid x spans w pixels, grid y spans h: convert through pixels
    matrix = torch.stack([
        torch.stack([cos, -sin / aspect, 2 * shift[:, 0]], dim=1),
        torch.stack([sin * aspect, cos, 2 * shift[:, 1]], dim=1),
    ], dim=1)  # (B, 2, 3); a shift of 0.1 image moves the grid by 0.2 of its [-1, 1] span
    grid = F.affine_grid(matrix.to(images.dtype), [b, 3, h, w], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border",
                         align_corners=False)


def low_resolution(images: torch.Tensor, level: torch.Tensor, factors: list[float]) -> torch.Tensor:
    """Downsample sample i by factors[level[i]] (antialiased) and upsample it back;
    level -1 leaves it alone. One resize pair per level present, for all its samples."""
    h, w = images.shape[-2:]
    out = images.clone()
    for k, factor in enumerate(factors):
        rows = torch.nonzero(level == k).squeeze(1)
        if rows.numel() == 0:
            continue
        small = (max(1, round(h * factor)), max(1, round(w * factor)))
        down = F.interpolate(images[rows], size=small, mode="bilinear", antialias=True,
                             align_corners=False)
        out[rows] = F.interpolate(down, size=(h, w), mode="bilinear", align_corners=False)
    return out


def gaussian_kernels(sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """(B, 2·radius + 1) normalised 1-D Gaussians; sigma 0 gives the identity (a delta)."""
    x = torch.arange(-radius, radius + 1, device=sigma.device, dtype=torch.float32)
    safe = sigma.float().clamp_min(1e-6).view(-1, 1)
    kernels = torch.exp(-0.5 * (x / safe) ** 2)
    return kernels / kernels.sum(dim=1, keepdim=True)


def blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Gaussian blur with a per-sample `sigma` (B,) in pixels: a separable depthwise conv.

    The batch is folded into channels, (1, B·C, H, W), so one grouped conv (groups = B·C)
    applies each sample's own kernel; sigma 0 leaves a sample unchanged.
    """
    b, c, h, w = images.shape
    max_sigma = float(sigma.max())
    if max_sigma <= 0:
        return images
    radius = max(1, math.ceil(3 * max_sigma))  # ±3σ holds 99.7% of the kernel's mass
    kernels = gaussian_kernels(sigma, radius).to(images.dtype)
    kernels = kernels.repeat_interleave(c, dim=0)  # (B·C, K): one row per sample-channel
    size = 2 * radius + 1
    x = images.reshape(1, b * c, h, w)
    # replicate padding: no dark frame from zeros, and no size limit as with reflect
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, kernels.view(b * c, 1, 1, size), groups=b * c)
    x = F.conv2d(x, kernels.view(b * c, 1, size, 1), groups=b * c)
    return x.reshape(b, c, h, w)
