"""The 14 datasets of the paper's Table 1, with what the label, sampling and test code needs.

Figures are the paper's: sizes from Table 1, thresholds from appendix A.3, training strides
from section 5.1 ("sampling ratio of 5, 10, 5"), non-contact:contact ratios from section 1
and appendix A.4. A synthetic twin keeps the real name with the prefix `synth:`.
"""

from __future__ import annotations

from dataclasses import dataclass

from haco.labels import THRESHOLDS
from haco.registry import Registry

GROUPS = {"HO": "hand-object", "HH": "hand-hand", "HS": "hand-scene", "HB": "hand-body"}
SYNTH_PREFIX = "synth:"


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    group: str                     # interaction group: HO, HH, HS or HB
    interaction: str               # Table 1 "Interaction" column
    domain: str                    # Table 1 "Domain" column
    images: int                    # Table 1 "# of images"
    subjects: int
    objects: int | None            # None where Table 1 prints "-"
    train_stride: int = 1          # keep every n-th training frame (video redundancy)
    splits: tuple[str, ...] = ("train",)
    noncontact_ratio: float | None = None  # vertex-level non-contact:contact, where reported

    @property
    def threshold(self) -> float | str:
        """Label distance threshold in metres, or "provided" (labels ship with the data)."""
        return THRESHOLDS[self.name]

    @property
    def is_test_set(self) -> bool:
        return "test" in self.splits


DATASETS: Registry[DatasetInfo] = Registry("dataset")

_TEST = ("train", "test")
for info in [
    DatasetInfo("ObMan", "HO", "Rigid Object", "Synthetic", 152_000, 20, 8),
    DatasetInfo("DexYCB", "HO", "Rigid Object", "Real / Indoor", 582_000, 10, 20,
                noncontact_ratio=2.7),
    DatasetInfo("MOW", "HO", "Rigid Object", "Real / Outdoor", 500, 450, 121, splits=_TEST),
    DatasetInfo("HO3D", "HO", "Rigid Object", "Real / Indoor", 78_000, 10, 10),
    DatasetInfo("H2O3D", "HO", "Rigid Object + Hand", "Real / Indoor", 76_000, 5, 10),
    DatasetInfo("ARCTIC", "HO", "Articulated Object + Hand", "Real / Indoor / Studio",
                2_100_000, 10, 11),
    DatasetInfo("HOI4D", "HO", "Rigid Object + Hand", "Real / Indoor", 2_400_000, 4, 16,
                train_stride=5),
    DatasetInfo("H2O", "HO", "Rigid Object + Hand", "Real / Indoor", 571_000, 4, 8,
                noncontact_ratio=10.57),
    DatasetInfo("InterHand2.6M", "HH", "Hand", "Real / Indoor / Studio", 2_600_000, 27, None,
                train_stride=10, noncontact_ratio=19.5),
    DatasetInfo("HIC", "HH", "Hand", "Real / Indoor", 36_000, 1, None, splits=_TEST,
                noncontact_ratio=58.41),
    DatasetInfo("PROX", "HS", "Scene", "Real / Indoor / Studio", 100_000, 20, None),
    DatasetInfo("RICH", "HS", "Scene", "Real / Outdoor", 540_000, 22, None, splits=_TEST),
    DatasetInfo("Decaf", "HB", "Face (Whole-Body)", "Real / Indoor", 100_000, 8, None,
                train_stride=5, noncontact_ratio=21.7),
    DatasetInfo("Hi4D", "HB", "Whole-Body", "Real / Indoor / Studio", 11_000, 40, None,
                splits=_TEST),
]:
    DATASETS.add(info.name, info)

TEST_SETS = tuple(name for name, info in DATASETS.items() if info.is_test_set)


def get_dataset(name: str) -> DatasetInfo:
    """Look a dataset up by its paper name or its twin's name (`synth:MOW`)."""
    return DATASETS[name.removeprefix(SYNTH_PREFIX)]


def datasets_in_groups(groups: list[str] | tuple[str, ...]) -> list[str]:
    """The datasets of the given interaction groups, in Table 1 order."""
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise KeyError(f"unknown interaction group(s) {unknown}; known: {', '.join(GROUPS)}")
    return [name for name, info in DATASETS.items() if info.group in groups]


def format_count(n: int) -> str:
    """Table 1's style: 152K, 2.1M, 0.5K."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    value = n / 1000
    return f"{value:.0f}K" if value >= 1 else f"{value:.1f}K"


def table1():
    """Table 1 (plus the label and sampling columns) as a pandas DataFrame."""
    import pandas as pd

    rows = []
    for info in DATASETS.values():
        thr = info.threshold
        rows.append({
            "Dataset": info.name,
            "Group": info.group,
            "Interaction": info.interaction,
            "Domain": info.domain,
            "# images": format_count(info.images),
            "# subjects": info.subjects,
            "# objects": "-" if info.objects is None else info.objects,
            "Threshold": thr if isinstance(thr, str) else f"{thr * 100:g} cm",
            "Stride": info.train_stride,
            "Test set": "yes" if info.is_test_set else "",
            "Non-contact:contact": "" if info.noncontact_ratio is None
            else f"{info.noncontact_ratio:g}:1",
        })
    return pd.DataFrame(rows)


def list_command(cfg) -> int:
    """`haco data list`: print Table 1."""
    print(table1().to_string(index=False))
    return 0
