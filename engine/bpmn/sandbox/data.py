"""Task data in and out of a script: a copy made only of JSON values, bounded in size and depth, so a script
never shares an object with the host and cannot leave anything the serializer would choke on."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from engine.kernel.errors import ScriptError
from engine.bpmn.sandbox.guards import MAX_INT_BITS


MAX_DATA_ITEMS = 1_000_000
"""Most values (every scalar, list and dict counts one) task data may hold when copied in or out.

Copying walks the data; a cycle or a list that repeats the same big list would otherwise make the walk (and
later the serializer) run without end.
"""

MAX_DATA_DEPTH = 100
"""Deepest nesting of lists and dicts in task data; JSON encoders recurse and refuse far deeper data."""

# -- Task data in and out: plain JSON values only --------------------------------------------------------------


class _Unstorable(Exception):
    """Internal: a value task data cannot hold. ``path`` collects keys, innermost first, as the error unwinds."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[Any] = []


class PlainCopier:
    """Copies values as JSON would round-trip them: tuples become lists, anything else non-JSON is refused.

    Copying makes the in-memory task data equal to what reloading it from storage gives, which keeps replays
    byte-identical, and it cuts every link between the sandbox's objects and the host's.
    """

    def __init__(self) -> None:
        self.items = 0

    def copy(self, value: Any, label: str, variable: str | None = None) -> Any:
        try:
            return self._copy(value, 0)
        except _Unstorable as error:
            where = label + _render_path(error.path[::-1])
            raise ScriptError(f"{where} {error.reason}", variable=variable) from None

    def _copy(self, value: Any, depth: int) -> Any:
        self.items += 1
        if self.items > MAX_DATA_ITEMS:
            raise _Unstorable(f"takes the data over {MAX_DATA_ITEMS} values")
        if depth > MAX_DATA_DEPTH:
            raise _Unstorable(f"is nested more than {MAX_DATA_DEPTH} levels deep")
        kind = type(value)
        if kind is list or kind is tuple:
            return [self._child(index, item, depth) for index, item in enumerate(value)]
        if kind is dict:
            return {_string_key(key): self._child(key, item, depth) for key, item in value.items()}
        _check_scalar(value)
        return value

    def _child(self, key: Any, value: Any, depth: int) -> Any:
        try:
            return self._copy(value, depth + 1)
        except _Unstorable as error:
            error.path.append(key)
            raise


def _string_key(key: Any) -> str:
    """JSON object keys are strings; an int key would silently become a string on the next reload."""
    if type(key) is not str:
        raise _Unstorable(f"has the key {key!r}, which is not a string")
    return key


def _check_scalar(value: Any) -> None:
    """Exact types only: a subclass of str or int could carry behaviour the serializer does not expect."""
    kind = type(value)
    if value is None or kind is str or kind is bool:
        return
    if kind is int:
        if value.bit_length() > MAX_INT_BITS:
            raise _Unstorable(f"holds an integer of more than {MAX_INT_BITS} bits")
        return
    if kind is float:
        if not math.isfinite(value):
            raise _Unstorable(f"holds {value!r}, which JSON cannot represent")
        return
    hint = "; delete helpers with `del` before the script ends" if callable(value) else ""
    raise _Unstorable(
        f"holds a {kind.__name__}, which cannot be stored in task data "
        f"(only str, int, float, bool, None, list and dict can{hint})"
    )


def _render_path(path: list[Any], shown: int = 8) -> str:
    """``[0]['a']``, shortened: a cycle produces a path MAX_DATA_DEPTH keys long."""
    keys = "".join(f"[{key!r}]" for key in path[:shown])
    return keys + ("[…]" if len(path) > shown else "")


def is_data_name(name: str) -> bool:
    """Names starting with ``_`` belong to the sandbox: scripts cannot use them (except the throwaway ``_``),
    they are never written to task data, and task data keys starting with ``_`` are hidden from scripts."""
    return not name.startswith("_")


def copy_task_data(values: Mapping[str, Any]) -> dict[str, Any]:
    """A plain copy of named task data; errors name the variable, and one item count covers all of it."""
    copier = PlainCopier()
    return {name: copier.copy(value, f"task data '{name}'", name) for name, value in values.items()}
