"""Contact metrics: the evaluation protocol of HACO (Jung & Lee, "Learning Dense Hand Contact
Estimation from Imbalanced Data", NeurIPS 2025).

A prediction is a contact probability per MANO vertex (778 of them); a vertex is predicted in
contact when its probability is `>= threshold`. For each sample:

    precision = TP / #predicted      (0 when nothing is predicted: undefined counts as 0)
    recall    = TP / #labelled
    F1        = 2PR / (P + R)        (0 when P + R = 0)

Recall and F1 are undefined for a sample with no contact label. Two protocols average them
(`protocol=`, the config's `eval.protocol`):

- "paper" (default; the paper's text): fully non-contact samples are skipped; a dataset's
  figure is the mean of the per-sample values over the samples counted.
- "release" (the authors' released `lib/utils/eval_utils.py`, `compute_contact_metrics`,
  averaged in `test.py`): the mean over every sample, an undefined value counted as 0
  (precision when no vertex is predicted, recall when none is labelled, F1 when either is
  undefined or P + R = 0). A fully non-contact sample thus adds 0 to all three, whatever is
  predicted, so the release's figure is the paper's times (samples with contact) / (all
  samples): the two agree where every sample has contact, and the threshold where F1
  peaks is the same under both (bar ties made by rounding). The release divides its float32
  label sums in float32 for recall; the figures here are float64 and agree with its within
  1e-6.

`count` is the number of samples averaged (with contact | all). When it is 0 the means are
NaN (there is nothing to average; 0 would read as a terrible model). A region's figures
apply the paper's rule to the region's vertices only, under either protocol: a sample
counts for a region when it has a contact label inside it. The release reports no region
figure, so there is nothing of its to reproduce, and its rule would make a region's figure
mostly the share of samples touching that region rather than how well it is predicted.

Means are exact: sums are kept without rounding error (Shewchuk's partials, the algorithm of
`math.fsum`), so streaming a dataset through `ContactMeter` in any batches gives bit for bit
the figures of a one-shot `contact_prf` on the whole of it.

Note: the authors' released evaluation thresholds the sigmoid with `>=` as this module does;
its averaging is `protocol="release"`. The two protocols agree where every test sample has
contact (the release's HIC, RICH and Hi4D loaders drop non-contact samples) and differ on
MOW and the training sets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch

__all__ = [
    "DECISION_THRESHOLDS", "PROTOCOLS", "SWEEP_THRESHOLDS", "ContactMeter", "contact_prf",
    "decision_threshold", "per_sample_prf", "region_prf", "threshold_sweep",
]

# Decision threshold per backbone, as in the authors' released test code; backbones not
# listed (the small CPU ones) use 0.5. `fpn` is HandOccNet's FPN.
DECISION_THRESHOLDS: dict[str, float] = {
    "vit-h": 0.5,
    "vit-l-16": 0.55,
    "vit-b-16": 0.5,
    "vit-s-16": 0.5,
    "fpn": 0.95,
    "hrnet-w48": 0.5,
    "hrnet-w32": 0.5,
    "resnet-152": 0.55,
    "resnet-101": 0.5,
    "resnet-50": 0.5,
    "resnet-34": 0.5,
    "resnet-18": 0.5,
}

# Default grid for picking a threshold on validation data: 0.05, 0.10, ..., 0.95.
SWEEP_THRESHOLDS: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))

_METRICS = ("precision", "recall", "f1")

# How per-sample figures are averaged (config `eval.protocol`; module docstring).
PROTOCOLS = ("paper", "release")


def decision_threshold(backbone: str) -> float:
    """The decision threshold on the sigmoid for a backbone name, as the authors' released
    code sets it (0.5 for unlisted ones)."""
    return DECISION_THRESHOLDS.get(backbone, 0.5)


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


def per_sample_prf(
    probs: torch.Tensor, labels: torch.Tensor, threshold: float | torch.Tensor = 0.5
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample precision, recall and F1 of `probs >= threshold` against `labels`.

    Args:
        probs: (N, V) contact probabilities (after the sigmoid).
        labels: (N, V) binary contact labels (nonzero = contact).
        threshold: a float, or a (T,) tensor/sequence of thresholds evaluated at once.

    Returns:
        precision, recall, f1: float64 (N,), or (T, N) for several thresholds; 0 where
        undefined (recall and F1 of a non-contact sample are meaningless: mask with `counted`).
        counted: bool (N,), the samples with at least one contact label.
    """
    probs, labels = _as_tensor(probs), _as_tensor(labels)
    if probs.ndim != 2 or probs.shape != labels.shape:
        raise ValueError(f"probs and labels must both be (N, V); got {tuple(probs.shape)} "
                         f"and {tuple(labels.shape)}")
    if not probs.is_floating_point():
        probs = probs.float()
    # The threshold takes the probabilities' dtype so that a threshold compares the same
    # whether it comes alone or in a (T,) tensor.
    thr = torch.as_tensor(threshold, dtype=probs.dtype, device=probs.device)
    several = thr.ndim == 1
    positive = (labels != 0).to(probs.device)
    predicted = probs.unsqueeze(0) >= thr.reshape(-1, 1, 1)  # (T, N, V)

    tp = (predicted & positive).sum(-1).double()
    n_pred = predicted.sum(-1).double()
    n_pos = positive.sum(-1).double()
    precision = torch.where(n_pred > 0, tp / n_pred.clamp(min=1), 0.0)
    recall = torch.where(n_pos > 0, tp / n_pos.clamp(min=1), 0.0)
    total = precision + recall
    f1 = torch.where(total > 0, 2 * precision * recall / total.clamp(min=1e-300), 0.0)
    if not several:
        precision, recall, f1 = precision[0], recall[0], f1[0]
    return precision, recall, f1, n_pos > 0


class _ExactSum:
    """A running sum of floats without rounding error (Shewchuk's partials, as `math.fsum`).

    The partials are non-overlapping floats whose exact sum is the exact sum of everything
    added, so the result does not depend on how the values were split into batches.
    """

    def __init__(self) -> None:
        self.partials: list[float] = []

    def add(self, values: Iterable[float]) -> None:
        partials = self.partials
        for x in values:
            i = 0
            for y in partials:
                if abs(x) < abs(y):
                    x, y = y, x
                hi = x + y
                lo = y - (hi - x)
                if lo:
                    partials[i] = lo
                    i += 1
                x = hi
            partials[i:] = [x]

    def value(self) -> float:
        return math.fsum(self.partials)


def _check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(PROTOCOLS)} (eval.protocol), "
                         f"got {protocol!r}")
    return protocol


class _PRFMean:
    """Mean per-sample precision, recall and F1, fed in any batches: over the samples with
    contact (protocol "paper") or over all of them (protocol "release")."""

    def __init__(self, protocol: str = "paper") -> None:
        self.protocol = _check_protocol(protocol)
        self.sums = {name: _ExactSum() for name in _METRICS}
        self.count = 0

    def add(self, precision, recall, f1, counted) -> _PRFMean:
        """(N,) per-sample values (0 where undefined, as `per_sample_prf` gives them) and the
        (N,) bool mask of samples with contact."""
        if self.protocol == "release":  # every sample, its undefined values already 0
            counted = torch.ones_like(counted)
        for name, values in zip(_METRICS, (precision, recall, f1)):
            self.sums[name].add(values[counted].tolist())
        self.count += int(counted.sum())
        return self

    def result(self) -> dict:
        if self.count == 0:
            means = dict.fromkeys(_METRICS, float("nan"))
        else:
            means = {name: s.value() / self.count for name, s in self.sums.items()}
        return {**means, "count": self.count}


def _region_index(regions: Mapping[str, Sequence[int]]) -> dict[str, torch.Tensor]:
    # A copy: the hand's arrays may be read-only, which torch warns about when sharing them.
    return {name: torch.tensor(np.asarray(idx), dtype=torch.long) for name, idx in regions.items()}


def contact_prf(probs, labels, threshold: float = 0.5, protocol: str = "paper") -> dict:
    """Dataset precision, recall, F1 (means over counted samples) and `count` (samples counted).

    Accepts torch tensors or numpy arrays, (N, V). `protocol`: "paper" counts the samples with
    a contact label, "release" every sample (module docstring). The means are NaN when no
    sample is counted (count 0).
    """
    return _PRFMean(protocol).add(*per_sample_prf(probs, labels, threshold)).result()


def region_prf(probs, labels, regions: Mapping[str, Sequence[int]],
               threshold: float = 0.5) -> dict[str, dict]:
    """`contact_prf` restricted to each region's vertices: {region: {precision, ..., count}}."""
    probs, labels = _as_tensor(probs), _as_tensor(labels)
    return {name: contact_prf(probs[:, idx.to(probs.device)], labels[:, idx.to(labels.device)],
                              threshold)
            for name, idx in _region_index(regions).items()}


def _sweep_rows(thresholds: Sequence[float], means: Sequence[_PRFMean]) -> list[dict]:
    rows = []
    for t, mean in zip(thresholds, means):
        result = mean.result()
        rows.append({"threshold": t, **{k: result[k] for k in _METRICS}})
    return rows


def threshold_sweep(probs, labels, thresholds: Sequence[float] | None = None,
                    protocol: str = "paper") -> list[dict]:
    """Dataset precision, recall, F1 at each threshold (default `SWEEP_THRESHOLDS`).

    For choosing a decision threshold on validation data; one vectorised pass over all
    thresholds. Returns [{threshold, precision, recall, f1}, ...] in the given order.
    """
    thresholds = [float(t) for t in (SWEEP_THRESHOLDS if thresholds is None else thresholds)]
    precision, recall, f1, counted = per_sample_prf(probs, labels, torch.tensor(thresholds))
    means = [_PRFMean(protocol).add(precision[i], recall[i], f1[i], counted)
             for i in range(len(thresholds))]
    return _sweep_rows(thresholds, means)


class ContactMeter:
    """Streaming contact evaluation: `update` per batch, `compute` at the end.

    Keeps only exact running sums and counts (memory does not grow with the number of
    batches), and gives exactly the one-shot figures of `contact_prf` / `region_prf` /
    `threshold_sweep` on the concatenated data.

    Args:
        thresholds: decision thresholds; the first is the main one (`compute`, regions),
            the others feed `sweep` and `best_threshold`.
        regions: optional {region name: vertex indices}, e.g. `load_hand().regions`;
            evaluated at the main threshold, always under the paper's rule.
        protocol: how the whole-hand figures and the sweep average the samples: "paper"
            (those with contact) or "release" (all; module docstring).
    """

    def __init__(self, thresholds: float | Sequence[float] = (0.5,),
                 regions: Mapping[str, Sequence[int]] | None = None,
                 protocol: str = "paper") -> None:
        if isinstance(thresholds, (int, float)):
            thresholds = (thresholds,)
        self.thresholds = tuple(float(t) for t in thresholds)
        if not self.thresholds:
            raise ValueError("ContactMeter needs at least one threshold")
        self.regions = _region_index(regions or {})
        self.protocol = _check_protocol(protocol)
        self.reset()

    def reset(self) -> None:
        self._by_threshold = [_PRFMean(self.protocol) for _ in self.thresholds]
        self._by_region = {name: _PRFMean() for name in self.regions}
        self._prob_sum: torch.Tensor | None = None  # per-vertex sum of probabilities
        self._samples = 0

    @torch.no_grad()
    def update(self, probs, labels) -> None:
        """Add a batch: (N, V) probabilities and binary labels (tensors or numpy arrays)."""
        probs = _as_tensor(probs).detach().cpu()
        labels = _as_tensor(labels).detach().cpu()
        precision, recall, f1, counted = per_sample_prf(probs, labels,
                                                        torch.tensor(self.thresholds))
        for i, mean in enumerate(self._by_threshold):
            mean.add(precision[i], recall[i], f1[i], counted)
        batch_sum = probs.double().sum(0)
        self._prob_sum = batch_sum if self._prob_sum is None else self._prob_sum + batch_sum
        self._samples += len(probs)
        for name, idx in self.regions.items():
            self._by_region[name].add(*per_sample_prf(probs[:, idx], labels[:, idx],
                                                      self.thresholds[0]))

    def compute(self) -> dict[str, float]:
        """Flat metrics at the main threshold: precision, recall, f1, count (under the
        meter's protocol), and per region `<region>/precision`, `<region>/recall`,
        `<region>/f1`, `<region>/count` (the paper's rule)."""
        out = self._by_threshold[0].result()
        for name, mean in self._by_region.items():
            out.update({f"{name}/{k}": v for k, v in mean.result().items()})
        return out

    def mean_probs(self) -> np.ndarray:
        """The mean predicted contact probability of every vertex over all samples seen
        (the prediction heatmap on the hand), or an empty array before any update."""
        if self._prob_sum is None:
            return np.zeros(0)
        return (self._prob_sum / self._samples).numpy()

    def sweep(self) -> list[dict]:
        """[{threshold, precision, recall, f1}] for every threshold, in the given order."""
        return _sweep_rows(self.thresholds, self._by_threshold)

    def best_threshold(self) -> float:
        """The threshold with the highest F1 (the first on ties; the main one if nothing
        was counted, since every F1 is then NaN)."""
        best, best_f1 = self.thresholds[0], -math.inf
        for row in self.sweep():
            if row["f1"] > best_f1:  # NaN compares False, so never wins
                best, best_f1 = row["threshold"], row["f1"]
        return best
