"""Group commit: threads that each have one thing to write hand it to whichever thread is writing.

A transaction's fixed costs (BEGIN, COMMIT and its durable flush, each statement's overhead) are
most of a small command's cost. When requests arrive together, the first thread to find nobody
writing becomes the leader and writes every item queued so far in one call; items that arrive
meanwhile wait, and when the leader is done the first of them leads the next batch. Nothing
waits on a timer: under light load every batch is a single item, and batches grow only while the
previous one is being written, so the batch size follows the load.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


class _Slot(Generic[Item, Outcome]):
    """One thread's item, and the outcome the batch gave it (a value, or an exception to raise)."""

    def __init__(self, item: Item) -> None:
        self.item = item
        self.outcome: Outcome | BaseException | None = None
        self.done = False
        self.called = threading.Event()
        """Set when the outcome is there, or when this thread is to lead the next batch."""

    def finish(self, outcome: Outcome | BaseException) -> None:
        self.outcome, self.done = outcome, True
        self.called.set()


class GroupCommit(Generic[Item, Outcome]):
    """``submit`` an item from any thread; ``write`` gets lists of items and returns their outcomes in order.

    ``write`` may return an exception as an item's outcome: ``submit`` raises it in that item's
    thread. If ``write`` itself raises, every item of the batch gets the exception.
    """

    def __init__(self, write: Callable[[list[Item]], list[Outcome | BaseException]]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._queue: list[_Slot[Item, Outcome]] = []
        self._writing = False

    def submit(self, item: Item) -> Outcome:
        slot: _Slot[Item, Outcome] = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            leads, self._writing = not self._writing, True
        if not leads:
            slot.called.wait()
        if not slot.done:
            self._lead()
        if isinstance(slot.outcome, BaseException):
            raise slot.outcome
        return slot.outcome  # type: ignore[return-value]

    def _lead(self) -> None:
        """Write everything queued (this thread's own item included), then pass the lead on."""
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            outcomes = self._write([slot.item for slot in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} items got {len(outcomes)} outcomes")
        except BaseException as exc:  # noqa: BLE001 — every thread of the batch raises it, none waits forever
            outcomes = [exc] * len(batch)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].called.set()
                else:
                    self._writing = False
        for slot, outcome in zip(batch, outcomes, strict=True):
            slot.finish(outcome)
