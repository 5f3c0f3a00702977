"""Every limit a definition must keep, in one place: checked at deployment where the value is written in
the file, and when a running instance computes it otherwise.

While a workflow step runs, its unit of work holds the database's writer turn (on SQLite, every other
writer waits), so a definition that makes one step run long stops the whole deployment. These limits make
the worst a definition can do fail its own instance (or its own deployment), never the server. Each error
that enforces one names it, with the value found, so that the author knows what to change.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

MAX_DEFINITION_BYTES: Final = 2 * 1024 * 1024
"""Largest upload read, checked before parsing: real definitions are tens of kilobytes, and the limit
bounds the parser's memory and time whatever the document's structure."""

MAX_FLOW_ELEMENTS: Final = 2_000
"""Most flow nodes (tasks, events, gateways, subprocesses) plus sequence flows in one file.

The bundled processes have fewer than 100. Each element becomes a task spec that every instance's
restore deserializes, and parallel branches multiply the tasks one step may walk; 2,000 leaves room for
any hand-drawn process while a generated one with 20,000 parallel tasks (3.6 s and 4.9 MB per step,
measured) is refused before SpiffWorkflow sees it."""

MAX_FLOW_DEPTH: Final = 200
"""Longest chain of flow nodes SpiffWorkflow's parser follows from a start event, one recursive call (two
Python frames) per node, counting the chains of the subprocesses met on the way.

The parser recurses along sequence flows and hits Python's recursion limit at about 480 nodes in a row;
200 keeps well clear of it (a request handler's own frames come first) and is ten times the longest
chain among the bundled processes."""

MAX_NESTING_DEPTH: Final = 8
"""Most subprocesses nested inside one another. Each level is a nested workflow at run time and a
nested parse at deployment; deliberation processes use one or two."""

MAX_MULTI_INSTANCES: Final = 1_000
"""Most instances one multi-instance activity may create, whether its loop cardinality is written in the
file or computed, or its input collection is task data.

SpiffWorkflow's multi-instance tasks cost quadratic time in their count (3,000 took 7 s and 10,000 ran past
40 s, all inside one step, holding the writer's turn). At 1,000 a start took 0.1 s here and completing one
instance 0.1 s, with a 230 KB answer. A list of participants longer than that belongs in domain rows (as
ballots are), not in task instances."""

MAX_STEP_TASKS: Final = 5_000
"""Most tasks one step may run (automatic tasks: scripts, gateways, events, service tasks, …).

Each script has its own budget (``engine.bpmn.sandbox``), but nothing else bounded how many tasks one step
runs: a multi-instance subprocess holding another multi-instance activity runs their product. 5,000 is five
times ``MAX_MULTI_INSTANCES``, and far above any step of the bundled processes."""

MAX_TASK_DEPTH: Final = 900
"""Deepest a task may sit in its workflow's task tree when it runs.

Every task a token passes through is a child of the one before, so a loop deepens the tree on every round;
SpiffWorkflow's task iterator stops looking at depth 1,000 (its ``max_depth``), and a loop that got there
(a gateway loop of 333 rounds, measured) stalled without a word: every task completed, none ready, the
instance running for ever. Failing at 900 says so, naming the task; a process that loops that long needs
``continueAsNew`` (docs/architecture.md)."""

MIN_CYCLE_INTERVAL: Final = timedelta(minutes=1)
"""Shortest interval between two firings of a ``timeCycle``: ``R/PT0S`` fired without end inside one
step, at 100 % CPU, while holding the writer's turn. The timer worker polls every few seconds anyway."""

MAX_TIMER_CYCLES: Final = 100
"""Most repetitions of a ``timeCycle`` (``R<n>/…``, with ``n`` written: an unbounded ``R/…`` is refused).
Every firing adds a branch to the instance's state; 100 is a daily reminder for three months."""

MAX_TIMER_DURATION: Final = timedelta(days=3652.425)
"""Longest ``timeDuration`` (and longest ``timeCycle`` interval): ten average Gregorian years, so that
``P10Y`` and ``P120M`` pass. SpiffWorkflow adds a duration month by month, in a Python loop, so
``P999999999Y`` ran for an estimated 77 minutes inside one step."""

TIMER_YEARS: Final = range(2000, 2201)
"""Years a ``timeDate`` (or a cycle's start or end) may fall in. Year 1 and year 9999 overflow when
shifted to UTC, and a date centuries away is a typing mistake, not a deadline."""

MAX_TIMER_TEXT: Final = 100
"""Longest timer value read as ISO 8601, in characters; the longest valid one is about 60."""
