"""Indicator computations, one kind at a time, and trends across cycles: "no data" is never zero."""

from __future__ import annotations

import pytest

from engine.pdca import indicators
from engine.pdca.indicators import Computed

NO_DATA = Computed(None, 0)


def test_average_is_the_mean_of_the_values() -> None:
    assert indicators.average([4, 5, 3]) == Computed(4.0, 3)
    assert indicators.average([1, 2, 2]) == Computed(1.6667, 3)


def test_share_is_the_percentage_meeting_the_threshold_in_its_direction() -> None:
    assert indicators.share([5, 4, 3, 2], 4, "at_least") == Computed(50.0, 4)
    assert indicators.share([12.5, 24, 30], 24, "at_most") == Computed(66.6667, 3)
    assert indicators.share([1, 2], 4, "at_least") == Computed(0.0, 2)  # data, and none met: zero


def test_count_per_subject_counts_every_listed_subject_visited_or_not() -> None:
    records = ["elder-1", "elder-1", "elder-2", "someone else"]
    assert indicators.count_per_subject(records, ["elder-1", "elder-2", "elder-3", "elder-4"]) == Computed(0.75, 3)
    assert indicators.count_per_subject([], ["elder-1", "elder-2"]) == Computed(0.0, 0)  # nobody visited: zero, not no data


def test_count_per_subject_without_a_list_counts_the_subjects_the_records_name() -> None:
    assert indicators.count_per_subject(["stairwell A", "stairwell A", "stairwell B"]) == Computed(1.5, 3)


def test_percentile_is_the_nearest_rank_an_observed_value() -> None:
    values = [40, 15, 50, 20, 35]
    assert indicators.percentile(values, 30) == Computed(20.0, 5)  # rank ceil(1.5) = 2
    assert indicators.percentile(values, 50) == Computed(35.0, 5)
    assert indicators.percentile(values, 100) == Computed(50.0, 5)
    assert indicators.percentile(range(1, 11), 90) == Computed(9.0, 10)
    assert indicators.percentile([7.25], 90) == Computed(7.25, 1)


@pytest.mark.parametrize("kind, indicator", [
    ("average", {}),
    ("share", {"threshold": 4, "threshold_direction": "at_least"}),
    ("percentile", {"percentile": 90}),
    ("count_per_subject", {}),
])
def test_no_rows_is_no_data_not_zero(kind: str, indicator: dict) -> None:
    assert indicators.compute({"kind": kind, **indicator}, [], []) == NO_DATA


def test_compute_dispatches_on_the_kind() -> None:
    item = {"kind": "share", "threshold": 4, "threshold_direction": "at_least"}
    assert indicators.compute(item, [5, 4, 1], []) == Computed(66.6667, 3)
    assert indicators.compute({"kind": "count_per_subject", "subjects": ["a", "b"]}, [], ["a"]) == Computed(0.5, 1)
    with pytest.raises(ValueError, match="unknown indicator kind"):
        indicators.compute({"kind": "median"}, [1], [])


@pytest.mark.parametrize("values, direction, expected", [
    ([60, 75, 90], "at_least", "improving"),
    ([90, 75, 60], "at_least", "worsening"),
    ([30, 26, 20], "at_most", "improving"),
    ([20, 26, 30], "at_most", "worsening"),
    ([85, 85.5, 85.2], "at_least", "stable"),  # within 2 % of the target
    ([10, 85, 85.5, 85.2], "at_least", "stable"),  # only the last three cycles count
    ([60, None, 75], "at_least", "improving"),  # cycles without data are skipped
    ([None, 80, None], "at_least", "insufficient_data"),
    ([], "at_least", "insufficient_data"),
])
def test_trend_over_the_latest_cycles(values: list, direction: str, expected: str) -> None:
    assert indicators.trend(values, direction, target=85 if direction == "at_least" else 24) == expected


def test_a_zero_target_still_tells_a_change_from_no_change() -> None:
    assert indicators.trend([3, 1, 0], "at_most", target=0) == "improving"
    assert indicators.trend([0, 0, 0], "at_most", target=0) == "stable"
