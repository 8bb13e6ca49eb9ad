"""The HACO model: backbone -> contact decoder -> 778 contact logits (+ coarse levels).

    images (B,3,H,W) in [0,1] -> ImageNet normalisation -> backbone tokens (B,N,C)
    -> contact token (B,dim) -> linear -> (B,778) logits + contact initialization
    -> coarse logits R_L @ logits for L in 336, 84, 21 (the hand's regressors)

`forward` returns a dict {778: ..., 336: ..., 84: ..., 21: ...} of logits; the multi-level
losses read every level and the metrics read 778.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from omegaconf import OmegaConf
from torch import nn

from haco.hand import NUM_VERTICES, load_hand
from haco.model.backbones import BACKBONES
from haco.model.decoder import ContactDecoder, DecoderConfig

LEVELS = (778, 336, 84, 21)
INIT_KINDS = ("learned", "none", "zeros", "ones", "mean")  # Table A1 rows
# Fixed initial contact maps are probabilities; clamped so their logits stay finite.
INIT_PROB_CLAMP = 0.01
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ContactInit(nn.Module):
    """The initial contact map the head's output is added to (paper appendix A.2).

    learned: a learnable (778,) logit embedding, drawn from N(0, std^2) at construction:
    std = 0 (ours, `model.init_std`'s default; the paper does not say) starts it at exactly
    zero without touching the random state; std = 1 is the released code's torch.randn
    (`init_contact` in its decoder head), drawn from the global RNG when this is built.
    none: nothing added; zeros / ones: "no contact" / "full contact"; mean: a dataset's
    per-vertex contact frequency. Fixed maps are buffers, so they follow `.to(device)`;
    they and `none` ignore `std`.
    """

    def __init__(self, kind: str = "learned", mean: np.ndarray | None = None, std: float = 0.0):
        super().__init__()
        if kind not in INIT_KINDS:
            raise ValueError(f"unknown contact init {kind!r}; known: {', '.join(INIT_KINDS)}")
        if not std >= 0.0:  # also refuses NaN
            raise ValueError(f"contact init std (model.init_std) must be >= 0, got {std}")
        self.kind = kind
        if kind == "learned":
            self.logits = nn.Parameter(_learned_start(float(std)))
        elif kind != "none":
            self.register_buffer("logits", _fixed_logits(kind, mean))

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return logits if self.kind == "none" else logits + self.logits


def _learned_start(std: float) -> torch.Tensor:
    """(778,) starting logits N(0, std^2); std 0 draws nothing, so the RNG stream (and every
    weight built after) stays what it was before the option existed."""
    if std == 0.0:
        return torch.zeros(NUM_VERTICES)
    return torch.randn(NUM_VERTICES) * std


def _fixed_logits(kind: str, mean: np.ndarray | None) -> torch.Tensor:
    if kind == "mean":
        if mean is None or np.shape(mean) != (NUM_VERTICES,):
            raise ValueError("contact init 'mean' needs init_mean, the (778,) contact "
                             "frequency of a dataset (set model.init_dataset)")
        probs = torch.as_tensor(np.asarray(mean), dtype=torch.float32)
    else:
        probs = torch.full((NUM_VERTICES,), 0.0 if kind == "zeros" else 1.0)
    return torch.logit(probs.clamp(INIT_PROB_CLAMP, 1 - INIT_PROB_CLAMP))


class HACO(nn.Module):
    def __init__(self, backbone: nn.Module, decoder: DecoderConfig,
                 regressors: dict[int, np.ndarray], init: ContactInit):
        super().__init__()
        self.backbone = backbone
        self.decoder = ContactDecoder(decoder, backbone.channels)
        self.head = nn.Linear(decoder.dim, NUM_VERTICES)
        self.init = init
        self.levels = tuple(sorted(regressors, reverse=True))
        for level, matrix in regressors.items():
            self.register_buffer(f"regressor_{level}", torch.as_tensor(matrix).float())
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> dict[int, torch.Tensor]:
        tokens = self.backbone((images - self.pixel_mean) / self.pixel_std)
        logits = self.init(self.head(self.decoder(tokens)))
        out = {NUM_VERTICES: logits}
        for level in self.levels:
            out[level] = logits @ getattr(self, f"regressor_{level}").T
        return out


_DECODER_FIELDS = {f.name for f in dataclasses.fields(DecoderConfig)}
_OTHER_OPTIONS = {"init", "init_mean", "init_std", "pretrained", "mano_path", "levels"}


def build_model(backbone: str, **overrides) -> HACO:
    """The paper's HACO with `backbone`; overrides change decoder sizes or options.

    Decoder: dim, depth, heads, dim_head, mlp_dim, dropout (paper: 1024, 6, 8, 64, 1024, 0).
    Options: init (learned | none | zeros | ones | mean), init_mean ((778,) for `mean`),
    init_std (learned only: its start is N(0, init_std^2); 0, the default, starts at zeros,
    1 is the release's randn, drawn before any other weight), pretrained (a local checkpoint
    path; random initialization when None), mano_path, levels (supervised levels, default
    778 336 84 21).
    """
    unknown = set(overrides) - _DECODER_FIELDS - _OTHER_OPTIONS
    if unknown:
        known = ", ".join(sorted(_DECODER_FIELDS | _OTHER_OPTIONS))
        raise TypeError(f"build_model got unknown option(s) {sorted(unknown)}; known: {known}")
    spec = BACKBONES[backbone]
    decoder = DecoderConfig(**{k: v for k, v in overrides.items() if k in _DECODER_FIELDS})
    hand = load_hand(overrides.get("mano_path"))
    levels = [lv for lv in overrides.get("levels", LEVELS) if lv != NUM_VERTICES]
    regressors = {lv: hand.regressors[lv] for lv in levels}
    init = ContactInit(overrides.get("init", "learned"), overrides.get("init_mean"),
                       float(overrides.get("init_std", 0.0)))
    model = HACO(spec.build(), decoder, regressors, init)
    if overrides.get("pretrained"):
        from haco.model.weights import load_pretrained

        load_pretrained(model.backbone, overrides["pretrained"], spec.weights)
    return model


def model_from_config(cfg, init_mean: np.ndarray | None = None) -> HACO:
    """build_model from a composed config's `model` (and `hand`, `loss.levels`) keys.

    A config saved before `model.init_std` existed builds as it did then (std 0)."""
    m = cfg.model
    init_std = float(OmegaConf.select(cfg, "model.init_std", default=0.0))
    return build_model(str(m.backbone), **dict(m.decoder), init=str(m.init),
                       init_mean=init_mean, init_std=init_std, pretrained=m.pretrained,
                       mano_path=cfg.hand.mano_path, levels=list(cfg.loss.levels))
