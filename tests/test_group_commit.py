"""GroupCommit: whoever finds nobody writing writes for everyone who arrives meanwhile."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from engine.kernel.group_commit import GroupCommit


class Writer:
    """Writes batches of numbers; the first batch waits until ``release`` so that others queue behind it."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.writing, self.release = threading.Event(), threading.Event()

    def __call__(self, items: list[int]) -> list[Any]:
        self.batches.append(items)
        if len(self.batches) == 1:
            self.writing.set()
            assert self.release.wait(10)
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


def test_a_lone_item_is_written_at_once_and_its_exception_raised_in_its_thread() -> None:
    writer = Writer()
    writer.release.set()
    group = GroupCommit(writer)
    assert group.submit(2) == 20
    with pytest.raises(ValueError, match="odd 3"):
        group.submit(3)
    assert writer.batches == [[2], [3]]


def test_items_arriving_while_a_batch_is_written_are_written_together_next() -> None:
    writer = Writer()
    group = GroupCommit(writer)
    outcomes: dict[int, Any] = {}

    def submit(item: int) -> None:
        try:
            outcomes[item] = group.submit(item)
        except ValueError as exc:
            outcomes[item] = str(exc)

    first = threading.Thread(target=submit, args=(0,))
    first.start()
    assert writer.writing.wait(10)
    others = [threading.Thread(target=submit, args=(i,)) for i in range(1, 6)]
    for thread in others:
        thread.start()
    while len(group._queue) < 5:
        threading.Event().wait(0.005)
    writer.release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert writer.batches[0] == [0]
    assert sorted(writer.batches[1]) == [1, 2, 3, 4, 5]
    assert outcomes == {0: 0, 1: "odd 1", 2: 20, 3: "odd 3", 4: 40, 5: "odd 5"}


def test_when_the_write_itself_fails_every_item_of_the_batch_raises_and_the_next_batch_goes_on() -> None:
    calls: list[list[int]] = []

    def write(items: list[int]) -> list[int]:
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("the database is gone")
        return items

    group = GroupCommit(write)
    with pytest.raises(RuntimeError, match="the database is gone"):
        group.submit(1)
    assert group.submit(2) == 2


def test_a_write_that_returns_the_wrong_number_of_outcomes_fails_its_batch() -> None:
    group: GroupCommit[int, int] = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="a batch of 1 items got 0 outcomes"):
        group.submit(1)
