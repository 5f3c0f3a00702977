"""Service-quality indicators: how each kind is computed from a cycle's rows, and trends across cycles.

Pure functions over plain numbers and strings, so every rule can be tested (and explained) on its
own. An indicator with nothing to compute from has the value ``None`` — "no data" — which is not
zero: a cycle in which nobody rated the service did not satisfy 0 % of the residents.

Kinds (``value`` is in the indicator's unit):

* ``average`` — the arithmetic mean of the values (ratings' scores, or a metric's measurements).
* ``share`` — the percentage (0–100) of the values meeting a threshold: ``>= threshold`` when the
  threshold's direction is ``at_least``, ``<= threshold`` when it is ``at_most``.
* ``count_per_subject`` — service records per subject: the number of records divided by the
  number of subjects. With a list of subjects (the elders to visit), every listed subject counts,
  visited or not, and records about other subjects are ignored; without one, the subjects are those
  the records name. No subject at all is "no data"; listed subjects never visited give 0.
* ``percentile`` — the p-th percentile by the nearest-rank method: the smallest value with at
  least p % of the values at or below it; always a value that was actually observed.

Values are rounded to four decimals, so that what is stored, shown and compared is the same number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

KINDS = ("average", "share", "count_per_subject", "percentile")
DIRECTIONS = ("at_least", "at_most")
TRENDS = ("improving", "stable", "worsening", "insufficient_data")
TREND_WINDOW = 3
"""How many of the latest cycles with data a trend looks at."""
STABLE_BAND = 0.02
"""A fitted change smaller than this share of the target, over the window, is "stable"."""
DECIMALS = 4


@dataclass(frozen=True)
class Computed:
    """An indicator's value for one cycle (None: no data) and how many rows it was computed from."""

    value: float | None
    samples: int


def average(values: Sequence[float]) -> Computed:
    if not values:
        return Computed(None, 0)
    return Computed(_round(math.fsum(values) / len(values)), len(values))


def share(values: Sequence[float], threshold: float, direction: str) -> Computed:
    if not values:
        return Computed(None, 0)
    meeting = sum(1 for value in values if _meets(value, threshold, direction))
    return Computed(_round(100 * meeting / len(values)), len(values))


def count_per_subject(record_subjects: Sequence[str], subjects: Sequence[str] | None = None) -> Computed:
    """``record_subjects`` holds one entry per service record: the subject it names."""
    if subjects:
        listed = set(subjects)
        counted = [subject for subject in record_subjects if subject in listed]
        return Computed(_round(len(counted) / len(listed)), len(counted))
    if not record_subjects:
        return Computed(None, 0)
    return Computed(_round(len(record_subjects) / len(set(record_subjects))), len(record_subjects))


def percentile(values: Sequence[float], p: float) -> Computed:
    if not values:
        return Computed(None, 0)
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return Computed(_round(ordered[rank - 1]), len(ordered))


def compute(indicator: dict[str, Any], values: Sequence[float], record_subjects: Sequence[str]) -> Computed:
    """An indicator of any kind; ``values`` are its source's numbers, ``record_subjects`` the records' subjects."""
    kind = indicator["kind"]
    if kind == "average":
        return average(values)
    if kind == "share":
        return share(values, indicator["threshold"], indicator["threshold_direction"])
    if kind == "count_per_subject":
        return count_per_subject(record_subjects, indicator.get("subjects"))
    if kind == "percentile":
        return percentile(values, indicator["percentile"])
    raise ValueError(f"unknown indicator kind {kind!r}")


def trend(values: Sequence[float | None], direction: str, target: float) -> str:
    """Whether an indicator is improving, stable or worsening over its latest cycles with data.

    The values are the cycles' values, oldest first; cycles without data are skipped. Over the last
    ``TREND_WINDOW`` values a straight line is fitted by least squares; its change from the first to
    the last of them is better when it goes the indicator's way (up for ``at_least``, down for
    ``at_most``), and "stable" when smaller than ``STABLE_BAND`` of the target. Fewer than two
    values give ``insufficient_data``.
    """
    known = [value for value in values if value is not None][-TREND_WINDOW:]
    if len(known) < 2:
        return "insufficient_data"
    change = _slope(known) * (len(known) - 1)
    better = change if direction == "at_least" else -change
    if abs(better) < STABLE_BAND * abs(target) or math.isclose(better, 0.0, abs_tol=1e-9):
        return "stable"
    return "improving" if better > 0 else "worsening"


def _slope(values: Sequence[float]) -> float:
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, math.fsum(values) / n
    spread = math.fsum((x - mean_x) ** 2 for x in range(n))
    return math.fsum((x - mean_x) * (y - mean_y) for x, y in enumerate(values)) / spread


def _meets(value: float, threshold: float, direction: str) -> bool:
    return value >= threshold if direction == "at_least" else value <= threshold


def _round(value: float) -> float:
    return round(value, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
