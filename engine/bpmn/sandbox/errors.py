"""A script's failure as a ``ScriptError``, with the script line it happened on, dug out of SpiffWorkflow's wrapping."""

from __future__ import annotations

import builtins

from engine.kernel.errors import ScriptError
from engine.bpmn.sandbox.policy import SCRIPT_FILENAME


# -- Errors raised while running -------------------------------------------------------------------------------


def _script_line(error: BaseException) -> int | None:
    """The line of the script being run when ``error`` was raised (its innermost script frame)."""
    line = None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == SCRIPT_FILENAME:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def _describe(error: Exception) -> str:
    """A NameError on a Python builtin we left out says so, rather than "not defined" (which reads as a typo)."""
    if isinstance(error, NameError) and error.name and hasattr(builtins, error.name):
        return f"name '{error.name}' is not allowed here"
    return f"{type(error).__name__}: {error}"


def runtime_error(error: Exception) -> ScriptError:
    """Any failure inside a script, as a ScriptError that names the script line."""
    if isinstance(error, ScriptError):
        message, details = error.message, dict(error.details)
    else:
        message, details = _describe(error), {"error_type": type(error).__name__}
    line = _script_line(error)
    if line is not None:
        message, details["line"] = f"{message} (line {line})", line
    return ScriptError(message, **details)


def script_error_from(error: BaseException) -> ScriptError | None:
    """The ScriptError behind ``error``, if any.

    SpiffWorkflow's engine raises a ``WorkflowTaskException`` from inside its ``except`` block and does not
    keep the original exception as an attribute, so the ScriptError is reachable only through the implicit
    chain (``__context__``); ``__cause__`` is followed too, for callers that chain explicitly.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ScriptError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
