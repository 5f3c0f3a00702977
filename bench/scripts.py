"""What the run-time limits cost per script: an evaluation in a child process against one in process.

Every script, condition and expression of a workflow runs in a child interpreter with an
address-space limit and a kill timer (``engine.bpmn.isolation``), because nothing inside one
interpreter can stop C-level work or cap its memory. This measures the price of that, in one run
and interleaved (rounds alternate the two ways, so a machine that changes speed affects both), and
prints the ratio and the difference per evaluation:

    python -m bench.scripts [--rounds 7] [--calls 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from engine.bpmn import isolation
from engine.bpmn.sandbox import run_here

CASES: dict[str, tuple[isolation.Mode, str, dict[str, Any]]] = {
    "expression": ("eval", "approved and turnout >= quorum", {"approved": True, "turnout": 41, "quorum": 30}),
    "small script": ("exec", "total = sum(scores)\nmean = total / len(scores)\nlate = mean < target",
                     {"scores": [5, 4, 4, 2, 3], "target": 4}),
}


def per_call(run: Callable[[], Any], calls: int) -> float:
    """Seconds per call, over ``calls`` calls."""
    started = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - started) / calls


def measure(mode: isolation.Mode, source: str, data: dict[str, Any], rounds: int, calls: int) -> tuple[float, float]:
    """Median seconds per evaluation (in a child, in process), rounds interleaved."""
    pool = isolation.Isolation(size=1)
    try:
        pool.run(mode, source, data, {})  # start the child: a server pays that once, not per script
        child, here = [], []
        for _ in range(rounds):
            child.append(per_call(lambda: pool.run(mode, source, data, {}), calls))
            here.append(per_call(lambda: run_here(mode, source, data, {}), calls))
        return statistics.median(child), statistics.median(here)
    finally:
        pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'case':<14} {'in a child':>12} {'in process':>12} {'ratio':>7} {'cost':>10}")
    for name, (mode, source, data) in CASES.items():
        child, here = measure(mode, source, data, args.rounds, args.calls)
        print(f"{name:<14} {child * 1e6:>9.1f} µs {here * 1e6:>9.1f} µs {child / here:>6.2f}× {(child - here) * 1e6:>7.1f} µs")


if __name__ == "__main__":
    main()
