"""The demo clock: system time plus a shared offset, re-read at most once a second, never going backwards."""

from datetime import datetime, timedelta, timezone

from engine.kernel.bus import EngineConfig
from engine.kernel.clock import DemoClock, ManualClock

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


class Tick:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_demo_clock_adds_the_stored_offset_and_rereads_it_at_most_once_a_second():
    stored = {"offset": timedelta(0)}
    reads = []

    def load():
        reads.append(1)
        return stored["offset"]

    tick = Tick()
    clock = DemoClock(load, system=ManualClock(START), monotonic=tick)
    assert clock.now() == START
    stored["offset"] = timedelta(days=1)  # another process advanced
    assert clock.now() == START  # cached
    tick.t = 1.0
    assert clock.now() == START + timedelta(days=1)
    assert len(reads) == 2


def test_two_clocks_share_the_offset_and_an_own_advance_is_seen_at_once():
    stored = {"offset": timedelta(0)}
    tick = Tick()
    a = DemoClock(lambda: stored["offset"], system=ManualClock(START), monotonic=tick)
    b = DemoClock(lambda: stored["offset"], system=ManualClock(START), monotonic=tick)
    a.now(), b.now()
    stored["offset"] = timedelta(hours=2)
    a.advanced(stored["offset"])
    assert a.now() == START + timedelta(hours=2)
    tick.t = 1.5
    assert b.now() == START + timedelta(hours=2)


def test_time_never_goes_backwards():
    stored = {"offset": timedelta(days=3)}
    tick = Tick()
    system = ManualClock(START)
    clock = DemoClock(lambda: stored["offset"], system=system, monotonic=tick)
    high = clock.now()
    stored["offset"] = timedelta(0)
    tick.t = 5
    assert clock.now() == high
    system.advance(timedelta(days=-1))
    assert clock.now() == high


def test_demo_mode_is_off_by_default():
    assert EngineConfig().demo is False
