"""The input-blind floor a trained row must clear (haco/baselines.py logs the baselines).

The floor of a test set is the best F1 of `All contact`, `Vertex prior` and, where the test
set is trained on, `Dataset prior` on it (a model can learn which dataset a picture comes
from; the floor must know as much, or dataset identity passes for reading the hand). A
trained row clears it when its mean F1 is above it by more than the row's seed std; with
one seed the std is unknown and the mean must simply be above it. A row under the floor
measures the loss's bias (how much contact it predicts), not what it learned from images.

One rule for the tables, the figures and the launch summary, so they never disagree.
Plain Python: the launcher imports it too.
"""

from __future__ import annotations

import math

BASELINES = ("All contact", "Vertex prior", "Dataset prior")
LABEL = "Input-blind floor (no training)"
MARK = "†"  # on the F1 of a trained row that does not clear the floor


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def clears(mean: float, std: float, n: int, floor: float) -> bool | None:
    """Whether a row (mean F1 over n seeds, their std) clears `floor`; None when there is
    nothing to decide (no run, no floor)."""
    if not n or _missing(mean) or _missing(floor):
        return None
    if n == 1 or _missing(std):
        return mean > floor
    return mean - floor > std


def summary(verdicts) -> str:
    """'k of m rows clear the floor' over the decided verdicts (None: not counted)."""
    decided = [v for v in verdicts if v is not None]
    return f"{sum(decided)} of {len(decided)} rows clear the floor"
