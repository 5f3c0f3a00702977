"""The restricted script engine: what the Python inside a process definition may do, and how much of it.

SpiffWorkflow evaluates every script and expression of a BPMN file (script tasks, gateway conditions, timer
expressions, pre/post scripts, message payloads, multi-instance cardinalities, …) through
``workflow.script_engine``. Its default engine runs them with full builtins, so whoever uploads a definition
could run anything on the server. This module replaces it with a sandbox built on RestrictedPython, in layers:

* **Compile time.** RestrictedPython's policy (no name or attribute starting with ``_``, no ``exec``/``eval``
  calls, …) plus ours: no imports, no class definitions, no ``print``. Our policy also rewrites the code so
  that loops and function calls count steps and size-amplifying operators go through guards.
* **Run time.** An allow-list of builtins (``_BUILTINS``) and of methods per type (``_METHODS``), a step
  budget, a wall-clock backstop, and size guards on single operations a step budget cannot interrupt.
* **Data.** Task data goes in and comes out as a copy made only of JSON values, so a script never shares an
  object with the host and cannot leave anything the serializer would choke on.
* **Deploy time.** :func:`check_definition_scripts` compiles a definition's scripts and expressions when it is
  uploaded, so compile-time refusals surface then rather than in a running process.

Every refusal or failure is a :class:`~engine.kernel.errors.ScriptError`. SpiffWorkflow wraps it in a
``WorkflowTaskException``; :func:`script_error_from` digs it out again.

What a sandbox inside one interpreter cannot bound — total memory, and C-level operations over large
aliased structures (``str()`` or ``==`` on a list holding the same 100 000-item list 100 000 times), which run
uninterrupted and can outlast the time budget — is bounded from outside: every script runs in a child process
with an address-space limit and a kill timer (``engine.bpmn.isolation``).

Known limits:

* Conversions between ``int`` and ``str`` rely on CPython's default ``sys.int_max_str_digits`` (4300).
"""

from engine.bpmn.sandbox.data import MAX_DATA_DEPTH, MAX_DATA_ITEMS
from engine.bpmn.sandbox.deployment import check_definition_scripts, check_expression
from engine.bpmn.sandbox.errors import script_error_from
from engine.bpmn.sandbox.guards import MAX_INT_BITS, MAX_SEQUENCE_LENGTH
from engine.bpmn.sandbox.policy import STEP_BUDGET, TIME_BUDGET_SECONDS
from engine.bpmn.sandbox.script_engine import SandboxEnvironment, SandboxScriptEngine, run_here

__all__ = [
    "MAX_DATA_DEPTH",
    "MAX_DATA_ITEMS",
    "MAX_INT_BITS",
    "MAX_SEQUENCE_LENGTH",
    "STEP_BUDGET",
    "SandboxEnvironment",
    "SandboxScriptEngine",
    "TIME_BUDGET_SECONDS",
    "check_definition_scripts",
    "check_expression",
    "run_here",
    "script_error_from",
]
