"""Capture styles: how a dataset's pictures look, by the capture domain of Table 1.

Real datasets differ in how they were filmed long before they differ in labels: MOW's
internet photos are outdoor daylight shots with compression noise, InterHand2.6M's and
ARCTIC's studio frames show hands lit evenly before a dark backdrop, the indoor lab sets
have muted rooms and warm lamps, and ObMan's synthetic renders paste random pictures
behind a clean render. A model trained on the real mix can tell them apart, and so learns
each dataset's labelling conventions (MOW's 3.5 cm threshold against the others' 1 cm).
A twin that renders every dataset alike hides that, so each twin renders in the style of
its dataset's domain (the last word of Table 1's "Domain" column).

Measured, not tuned: the ranges below describe the kinds of picture, they were set once
from the datasets' descriptions, and analysis/LEARNING_LOG.md (2026-12-02) records what
the change did to the models and the floors.
"""

from __future__ import annotations

from dataclasses import dataclass

from haco.registry import Registry

BACKGROUNDS = ("solid", "gradient", "noise", "stripes")  # drawn by haco.synth.paint


@dataclass(frozen=True)
class CaptureStyle:
    backgrounds: tuple[str, ...]              # the kinds of BACKGROUNDS it draws
    brightness: tuple[float, float]           # range of the background's two colours
    saturation: float                         # background colours mixed towards grey: 0 grey
    ambient: tuple[float, float]              # range of the ambient light
    diffuse: tuple[float, float]              # range of the directional light
    tint: tuple[float, float, float]          # colour of the light (white balance)
    noise: float                              # std of per-pixel sensor noise, in [0, 1] units

    def validate(self, name: str) -> None:
        unknown = [k for k in self.backgrounds if k not in BACKGROUNDS]
        if not self.backgrounds or unknown:
            raise ValueError(f"capture style {name!r}: backgrounds must be a non-empty subset "
                             f"of {BACKGROUNDS}, got {self.backgrounds}")
        for field in ("brightness", "ambient", "diffuse"):
            lo, hi = getattr(self, field)
            if not 0 <= lo <= hi:
                raise ValueError(f"capture style {name!r}: {field} must be a range "
                                 f"0 <= low <= high, got {(lo, hi)}")
        if not 0 <= self.saturation <= 1 or self.noise < 0:
            raise ValueError(f"capture style {name!r}: saturation in [0, 1] and noise >= 0")


STYLES: Registry[CaptureStyle] = Registry("capture style")
STYLES.add("Synthetic", CaptureStyle(   # ObMan: clean renders over arbitrary pictures
    backgrounds=BACKGROUNDS, brightness=(0.05, 0.95),
    saturation=1.0, ambient=(0.2, 0.4), diffuse=(0.6, 0.85), tint=(1.0, 1.0, 1.0), noise=0.0))
STYLES.add("Indoor", CaptureStyle(      # lab rooms: muted walls and furniture, warm lamps
    backgrounds=("gradient", "noise", "stripes"), brightness=(0.25, 0.7), saturation=0.35,
    ambient=(0.3, 0.45), diffuse=(0.45, 0.65), tint=(1.06, 1.0, 0.9), noise=0.02))
STYLES.add("Outdoor", CaptureStyle(     # daylight: textured scenery, hard sun, compression
    backgrounds=("noise", "gradient"), brightness=(0.3, 1.0), saturation=0.8,
    ambient=(0.1, 0.2), diffuse=(0.9, 1.1), tint=(0.95, 1.0, 1.08), noise=0.04))
STYLES.add("Studio", CaptureStyle(      # capture domes: dark backdrop, even bright light
    backgrounds=("solid",), brightness=(0.0, 0.15), saturation=0.2,
    ambient=(0.45, 0.6), diffuse=(0.4, 0.55), tint=(1.0, 1.0, 1.0), noise=0.01))
for _name, _style in STYLES.items():
    _style.validate(_name)

NEUTRAL = STYLES["Synthetic"]  # the renderer's default: what every twin looked like before


def style_of_domain(domain: str) -> CaptureStyle:
    """The style of a Table 1 domain ("Real / Indoor / Studio" -> "Studio")."""
    return STYLES[domain.split("/")[-1].strip()]
