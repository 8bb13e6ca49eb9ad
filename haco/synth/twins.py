"""Synthetic twins of the paper's 14 datasets, named `synth:<name>`.

A twin is a mixture of interaction scenarios (haco.synth.scenes) at its dataset's label
threshold, chosen to reproduce the dataset's interaction type and the spatial pattern of
its contacts (paper appendix A.5), and a non-contact:contact vertex ratio (the paper's
figure where it gives one, section 1 and appendix A.4; a sensible value otherwise).

The ratio is met by calibration, not by hand-tuning: a fixed pilot of scenes measures the
mixture's mean contact count m per contact sample, and the share p of fully non-contact
samples (near misses) is set so that (1 - p) * m = 778 / (ratio + 1). So a twin's
non-contact share is derived, and `haco data stats` reports it next to the ratio.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field

import numpy as np

from haco.data.registry import DATASETS, SYNTH_PREFIX
from haco.hand import NUM_VERTICES
from haco.registry import Registry
from haco.synth.capture import CaptureStyle, style_of_domain

PROVIDED_LABEL_THRESHOLD = 0.01  # twins of datasets with provided labels label at 1 cm
TYPICAL_GAP = (-0.002, 0.002)    # metres between hand and surface where they meet


@dataclass(frozen=True)
class TwinProfile:
    dataset: str                       # registry name of the real dataset
    mixture: dict[str, float]          # scenario -> weight
    target_ratio: float                # vertex-level non-contact:contact
    ratio_source: str                  # "paper" or "chosen"
    pattern: str                       # the spatial pattern it reproduces (appendix A.5)
    gap: tuple[float, float] = TYPICAL_GAP  # negative: the fitted hand sinks in (label noise)
    notes: str = ""

    @property
    def name(self) -> str:
        return SYNTH_PREFIX + self.dataset

    @property
    def group(self) -> str:
        return DATASETS[self.dataset].group

    @property
    def style(self) -> CaptureStyle:
        """How its pictures look: the capture style of the dataset's domain."""
        return style_of_domain(DATASETS[self.dataset].domain)

    @property
    def threshold(self) -> float:
        value = DATASETS[self.dataset].threshold
        return PROVIDED_LABEL_THRESHOLD if isinstance(value, str) else float(value)

    def scenario_for(self, index: int, split: str) -> str:
        """The scenario of sample `index`: a low-discrepancy (golden-ratio) sequence over the
        mixture, so even a small twin holds each scenario in proportion. Random draws
        would not: a 100-sample twin mixing 4-contact and 110-contact scenarios missed
        its ratio by half."""
        names = list(self.mixture)
        weights = np.cumsum([self.mixture[n] for n in names])
        u = _stratified(index, split, 0.6180339887498949)
        return names[int(np.searchsorted(weights / weights[-1], u, side="right"))]

    def is_near_miss(self, index: int, split: str, share: float) -> bool:
        """Whether sample `index` is built fully non-contact; stratified like the scenarios,
        on an independent sequence (the plastic-number one)."""
        return _stratified(index, split, 0.7548776662466927) < share

    def as_dict(self) -> dict:
        return {**asdict(self), "threshold": self.threshold, "group": self.group}


FINGERTIP_GRASPS = {"tripod": 0.35, "pinch": 0.3, "power": 0.25, "lateral": 0.1}

TWINS: Registry[TwinProfile] = Registry("synthetic twin")
for twin in [
    TwinProfile("ObMan", {"power": 0.6, "tripod": 0.15, "pinch": 0.1, "lateral": 0.15}, 7.0,
                "chosen", "whole grasps: palm with the hypothenar, finger pads, tips"),
    TwinProfile("DexYCB", {"power": 0.75, "flat_press": 0.15, "tripod": 0.1}, 2.7, "paper",
                "fingertips first, then pads and palm of firm grasps", gap=(-0.018, -0.008),
                notes="fitted hands sink into the objects; that is what puts a quarter of "
                      "all vertices within 1 cm"),
    TwinProfile("MOW", {"power": 0.4, "pinch": 0.25, "tripod": 0.2, "lateral": 0.15}, 1.5,
                "chosen", "palmar with the hypothenar; no dorsal contact (3.5 cm threshold)"),
    TwinProfile("HO3D", FINGERTIP_GRASPS, 8.0, "chosen", "fingertip-concentrated"),
    TwinProfile("H2O3D", FINGERTIP_GRASPS, 9.0, "chosen", "fingertip-concentrated"),
    TwinProfile("ARCTIC", {"pinch": 0.35, "tripod": 0.35, "power": 0.2, "poke": 0.1}, 12.0,
                "chosen", "fingertip-concentrated (egocentric manipulation)"),
    TwinProfile("HOI4D", {"tripod": 0.3, "pinch": 0.3, "power": 0.3, "poke": 0.1}, 9.0,
                "chosen", "fingertip-concentrated"),
    TwinProfile("H2O", {"pinch": 0.35, "tripod": 0.3, "power": 0.25, "poke": 0.1}, 10.57,
                "paper", "fingertip-concentrated (pointing at object parts)"),
    TwinProfile("InterHand2.6M", {"clasped": 0.25, "interlaced": 0.25, "touch_anywhere": 0.5},
                19.5, "paper", "nearly the whole hand, little on the dorsum",
                gap=(-0.006, 0.0)),
    TwinProfile("HIC", {"touch_tips": 0.7, "interlaced": 0.3}, 58.41, "paper",
                "small fingertip regions, moderate between the fingers", gap=(-0.004, 0.0)),
    TwinProfile("PROX", {"palm_pressed": 0.4, "leaning": 0.35, "fingertips_resting": 0.25}, 6.0,
                "chosen", "palmar, large flat areas"),
    TwinProfile("RICH", {"palm_pressed": 0.35, "leaning": 0.4, "fingertips_resting": 0.25}, 7.0,
                "chosen", "palmar, large flat areas (outdoor scenes)"),
    TwinProfile("Decaf", {"chin_touch": 0.6, "body_poke": 0.4}, 21.7, "paper",
                "limited poke/touch patterns on the face", gap=(-0.008, -0.002)),
    TwinProfile("Hi4D", {"pat": 0.6, "hug": 0.4}, 5.0, "chosen",
                "full palmar contact (hugging, patting)", gap=(-0.005, 0.0)),
]:
    TWINS.add(twin.name, twin)


def get_twin(name: str) -> TwinProfile:
    """A twin by `synth:<name>` or by the plain dataset name."""
    return TWINS[name if name.startswith(SYNTH_PREFIX) else SYNTH_PREFIX + name]


SPLITS = {"train": 0, "test": 1, "val": 2, "pretrain": 3}  # pretrain: haco.pretrain's set


def _stratified(index: int, split: str, step: float) -> float:
    """frac(offset + index * step): evenly spread over [0, 1) for consecutive indices."""
    return float((0.5 + SPLITS[split] * 0.25 + (index + 1) * step) % 1.0)


def sample_rng(twin: TwinProfile, split: str, index: int, seed: int) -> np.random.Generator:
    """The random stream of one sample: a function of (twin, split, index, seed) only, so
    any sample can be regenerated alone, in any order, by any worker."""
    return np.random.default_rng([seed, zlib.crc32(twin.name.encode()), SPLITS[split], index])


@dataclass
class Calibration:
    mean_contacts: float       # over the pilot's contact samples
    non_contact_share: float   # share of fully non-contact samples to generate
    pilot: int
    feasible: bool             # False: the mixture alone has too few contacts for the ratio
    counts: list[int] = field(default_factory=list)


def calibrate(twin: TwinProfile, hand, train_size: int, pilot: int = 256,
              seed: int = 0) -> Calibration:
    """Measure the mean contact count and derive the non-contact share.

    The pilot is the twin's own first training scenes: a near miss is the same scene with
    its bodies moved clear, so these are exactly the scenes the split will hold (all of
    them for twins up to `pilot` samples); a separate pilot misjudged twins whose
    scenarios differ a lot in contact size.
    """
    from haco.synth.scenes import make_scene

    counts = []
    for i in range(min(train_size, pilot)):
        rng = sample_rng(twin, "train", i, seed)
        scene = make_scene(hand, twin.scenario_for(i, "train"), rng, twin.threshold,
                           gap=twin.gap)
        counts.append(int(scene.contacts.sum()))
    mean = float(np.mean(counts))
    wanted = NUM_VERTICES / (twin.target_ratio + 1)  # mean contacts over all samples
    share = 1 - wanted / mean
    return Calibration(mean, float(np.clip(share, 0.0, 0.9)), len(counts), share >= 0, counts)
