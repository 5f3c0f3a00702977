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

from __future__ import annotations

import ast
import builtins
import functools
import math
import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from types import CodeType
from typing import Any, Literal, TypeVar

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import guarded_unpack_sequence, safer_getattr
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations
from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment, PythonScriptEngine
from SpiffWorkflow.specs.base import TaskSpec

from engine.bpmn import isolation, service_calls
from engine.kernel.errors import DefinitionError, ScriptError

STEP_BUDGET = 100_000
"""Loop iterations plus function calls allowed to one script or expression.

Scripts in a deliberation process are glue (count a few thousand ballots, assemble a notice); they stay far
below this, while a runaway loop reaches it within tens of milliseconds. Counting steps rather than time makes
the refusal deterministic: the same script on the same data stops at the same step on every machine, so a
replay of the process fails (or not) exactly as the original run did.
"""

TIME_BUDGET_SECONDS = 1.0
"""Wall-clock backstop, checked at every step.

Steps are not equal (one may copy a 100 000-item list), so the step budget alone does not bound time. This
limit depends on machine load and is therefore NOT deterministic: it is only a second line behind the step
budget, never the rule a definition author should rely on.
"""

MAX_INT_BITS = 4096
"""Largest integer ``*``, ``**`` and ``<<`` may build, and task data may hold (about 1 233 decimal digits).

Python integers are unbounded and a single ``9**9**9`` runs for minutes inside one C call that no step
budget can interrupt; deliberation arithmetic (counts, shares, ranks) never needs more than 64 bits.
"""

MAX_SEQUENCE_LENGTH = 100_000
"""Longest string, list or tuple a single operation may build (``*``, ``+``, ``join``, ``range``, …).

Like huge integers, ``'a' * 10**10`` is one uninterruptible C call that exhausts memory. 100 000 items is
more than any list of participants, ballots or proposals a script handles at once.
"""

MAX_DATA_ITEMS = 1_000_000
"""Most values (every scalar, list and dict counts one) task data may hold when copied in or out.

Copying walks the data; a cycle or a list that repeats the same big list would otherwise make the walk (and
later the serializer) run without end.
"""

MAX_DATA_DEPTH = 100
"""Deepest nesting of lists and dicts in task data; JSON encoders recurse and refuse far deeper data."""

SCRIPT_FILENAME = "<bpmn script>"
"""File name compiled scripts carry, so that a traceback's script frames (and their lines) can be found."""

_T = TypeVar("_T")
_SizedT = TypeVar("_SizedT", bound=Sized)

_SEQUENCES = (str, bytes, list, tuple)


# -- Size guards: called instead of operators and methods that can build huge values in one C call ------------


def _check_length(length: int, what: str) -> None:
    """Refuse an operation before it builds a sequence longer than MAX_SEQUENCE_LENGTH."""
    if length > MAX_SEQUENCE_LENGTH:
        raise ScriptError(f"{what} would build more than {MAX_SEQUENCE_LENGTH} items", limit=MAX_SEQUENCE_LENGTH)


def _check_bits(bits: int, what: str) -> None:
    """Refuse an operation before it builds an integer wider than MAX_INT_BITS."""
    if bits > MAX_INT_BITS:
        raise ScriptError(f"{what} would build an integer of more than {MAX_INT_BITS} bits", limit=MAX_INT_BITS)


def _add(left: Any, right: Any, op: Callable[[Any, Any], Any] = operator.add) -> Any:
    """``+``: concatenation is bounded because ``s = s + s`` doubles its size at every step."""
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        _check_length(len(left) + len(right), "'+'")
    return op(left, right)


def _mul(left: Any, right: Any, op: Callable[[Any, Any], Any] = operator.mul) -> Any:
    """``*``: sequence repetition and integer products are sized before they are computed."""
    if isinstance(left, _SEQUENCES) and isinstance(right, int):
        _check_length(len(left) * right, "'*'")
    elif isinstance(right, _SEQUENCES) and isinstance(left, int):
        _check_length(len(right) * left, "'*'")
    elif isinstance(left, int) and isinstance(right, int):
        _check_bits(left.bit_length() + right.bit_length(), "'*'")
    return op(left, right)


def _pow(base: Any, exponent: Any, op: Callable[[Any, Any], Any] = operator.pow) -> Any:
    """``**``: an integer power has about ``exponent * log2(|base|)`` bits; floats overflow quickly on their own."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        too_big = exponent > MAX_INT_BITS  # a base of 2 or more adds at least one bit per unit of exponent
        _check_bits(MAX_INT_BITS + 1 if too_big else math.ceil(exponent * math.log2(abs(base))), "'**'")
    return op(base, exponent)


def _lshift(value: Any, shift: Any, op: Callable[[Any, Any], Any] = operator.lshift) -> Any:
    """``<<``: ``2 << 10**10`` is an integer of ten billion bits."""
    if isinstance(value, int) and isinstance(shift, int) and value and shift > 0:
        _check_bits(value.bit_length() + shift, "'<<'")
    return op(value, shift)


def _mod(left: Any, right: Any, op: Callable[[Any, Any], Any] = operator.mod) -> Any:
    """``%``: printf-style formatting takes widths (``'%*d' % (10**9, 1)``) too varied to size; f-strings remain."""
    if isinstance(left, (str, bytes)):
        raise ScriptError("'%' formatting of strings is not available in scripts: use an f-string")
    return op(left, right)


_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": functools.partial(_add, op=operator.iadd),
    "-=": operator.isub,
    "*=": functools.partial(_mul, op=operator.imul),
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": functools.partial(_mod, op=operator.imod),
    "**=": functools.partial(_pow, op=operator.ipow),
    "<<=": functools.partial(_lshift, op=operator.ilshift),
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    """RestrictedPython turns ``x += y`` into ``x = _inplacevar_('+=', x, y)``; the same size guards apply."""
    return _INPLACE_OPERATORS[op](target, value)


def _join(separator: str, parts: Iterable[Any]) -> str:
    """``str.join``: a short separator between many long parts multiplies sizes."""
    items = list(parts)
    strings = (len(item) for item in items if isinstance(item, str))
    _check_length(len(separator) * max(len(items) - 1, 0) + sum(strings), "str.join()")
    return separator.join(items)


def _replace(text: str, old: str, new: str, count: int = -1) -> str:
    """``str.replace``: ``s.replace('a', s)`` squares the length of ``s``."""
    found = text.count(old) if count < 0 else min(text.count(old), count)
    _check_length(len(text) + found * (len(new) - len(old)), "str.replace()")
    return text.replace(old, new, count)


def _extend(items: list[Any], more: Iterable[Any]) -> None:
    """``list.extend``: ``l.extend(l)`` doubles a list at every step."""
    added = list(more)
    _check_length(len(items) + len(added), "list.extend()")
    items.extend(added)


def _sized(sequence: _SizedT) -> _SizedT:
    """A list or tuple display with ``*`` (``[*l, *l]``) is built in C, so it is checked right after."""
    _check_length(len(sequence), "unpacking with '*'")
    return sequence


def _apply(function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """RestrictedPython routes ``f(*args, **kwargs)`` here; the unpacked arguments are sized like a display."""
    _check_length(len(args), "a call with '*' arguments")
    return function(*args, **kwargs)


_CONVERSIONS: dict[int, Callable[[Any], str]] = {ord("s"): str, ord("r"): repr, ord("a"): ascii}
_NUMBER = re.compile(r"\d+")
_LIMIT_DIGITS = len(str(MAX_SEQUENCE_LENGTH))


def _format(value: Any, conversion: int, spec: str) -> str:
    """An f-string field with a format spec: ``f'{x:>10000000000}'`` would pad to ten billion characters.

    Any number in the spec (width, precision) above MAX_SEQUENCE_LENGTH is refused; the conversion
    (``!r``, ``!s``, ``!a``) is applied here because our policy moved the whole field into this call.
    """
    for digits in _NUMBER.findall(spec):
        significant = digits.lstrip("0")
        if len(significant) > _LIMIT_DIGITS or int(significant or "0") > MAX_SEQUENCE_LENGTH:
            raise ScriptError(f"format spec {spec!r} asks for more than {MAX_SEQUENCE_LENGTH} characters")
    if conversion in _CONVERSIONS:
        value = _CONVERSIONS[conversion](value)
    return format(value, spec)


# -- Builtins and attributes: allow-lists, because anything not listed is an escape route we did not review ---


def _range(*args: int) -> range:
    """``range`` bounded like other sequences: ``sum(range(10**12))`` loops in C, outside the step budget."""
    numbers = range(*args)
    if numbers[MAX_SEQUENCE_LENGTH:]:  # slicing a range is arithmetic, so this is cheap even for 10**100
        raise ScriptError(f"range() of more than {MAX_SEQUENCE_LENGTH} numbers is not allowed")
    return numbers


def _sum(numbers: Iterable[Any], start: Any = 0) -> Any:
    """``sum`` of numbers only: ``sum(lists, [])`` concatenates quadratically in C."""
    if type(start) not in (int, float, bool):
        raise ScriptError("sum() adds numbers only: its start value must be a number")
    return sum(numbers, start)


def _zip(*iterables: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """``zip`` sized: ``list(zip(*[l] * 100000))`` builds 100 000 tuples of 100 000 items in one C call.

    Its tuples hold (arguments × shortest length) items. Transposing distinct lists only rearranges items that
    already exist, so the tuples may hold as many items as the distinct inputs do, plus MAX_SEQUENCE_LENGTH;
    only repeating the same list among the arguments can go beyond. Unsized inputs (generators) are
    consumed through their own counted loops, so they need no check.
    """
    lengths = {id(each): len(each) for each in iterables if isinstance(each, Sized)}
    if lengths:
        built = len(iterables) * min(lengths.values())
        _check_length(built - sum(lengths.values()), "zip()")
    return zip(*iterables)


_BUILTINS: dict[str, Any] = {
    # Values and conversions. dict, list, tuple, str, int, float, bool double as types for isinstance().
    "abs": abs,
    "bool": bool,
    "dict": dict,
    "float": float,
    "int": int,
    "list": list,
    "round": round,
    "str": str,
    "tuple": tuple,
    "isinstance": isinstance,
    # Iteration helpers; the iterables they consume in C are bounded by _range, _zip and the size guards.
    "all": all,
    "any": any,
    "enumerate": enumerate,
    "len": len,
    "max": max,
    "min": min,
    "range": _range,
    "sorted": sorted,
    "sum": _sum,
    "zip": _zip,
    # Exceptions a script may catch, or raise to fail its task with a message.
    "Exception": Exception,
    "IndexError": IndexError,
    "KeyError": KeyError,
    "TypeError": TypeError,
    "ValueError": ValueError,
    "ZeroDivisionError": ZeroDivisionError,
}
"""Everything a script can call without an attribute. Deliberately absent: ``__import__``, ``open``, ``eval``,
``exec``, ``compile``, ``getattr``/``setattr``, ``globals``/``vars``/``locals``/``dir``, ``type``, ``print``
and every other builtin, reviewed or not."""

_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        "capitalize casefold count endswith find index isalnum isalpha isdecimal isdigit islower isnumeric "
        "isspace istitle isupper join lower lstrip partition removeprefix removesuffix replace rfind rindex "
        "rpartition rsplit rstrip split splitlines startswith strip swapcase title upper".split()
    ),
    list: frozenset("append clear copy count extend index insert pop remove reverse sort".split()),
    dict: frozenset("clear copy get items keys pop popitem setdefault update values".split()),
    tuple: frozenset(("count", "index")),
    float: frozenset(("is_integer",)),
}
"""Attributes a script may read, per exact type. Absent on purpose: ``str.format``/``format_map`` (reach
attributes), padding and translating methods (``ljust``, ``center``, ``zfill``, ``expandtabs``,
``translate``: one call builds any size), ``encode``, and every attribute of any other type."""

_SIZED_METHODS: dict[tuple[type, str], Callable[..., Any]] = {
    (str, "join"): _join,
    (str, "replace"): _replace,
    (list, "extend"): _extend,
}


def _getattr(obj: Any, name: str) -> Any:
    """``obj.name`` in a script: allowed only if listed in _METHODS, then read through RestrictedPython's guard."""
    if name not in _METHODS.get(type(obj), ()):
        raise ScriptError(f"'{type(obj).__name__}.{name}' is not available in scripts", attribute=name)
    sized = _SIZED_METHODS.get((type(obj), name))
    return functools.partial(sized, obj) if sized else safer_getattr(obj, name)


class _ListWriter:
    """What ``_write_`` hands out for a list: item and slice assignment, with ``l[:0] = l`` sized first."""

    __slots__ = ("_items",)

    def __init__(self, items: list[Any]) -> None:
        self._items = items

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            value = list(value)
            replaced = len(range(*index.indices(len(self._items))))
            _check_length(len(self._items) - replaced + len(value), "slice assignment")
        self._items[index] = value

    def __delitem__(self, index: Any) -> None:
        del self._items[index]


def _write(obj: Any) -> Any:
    """Target of ``x[k] = v``, ``del x[k]`` and ``x.a = v``: only task data containers may change in place."""
    if type(obj) is dict:
        return obj
    if type(obj) is list:
        return _ListWriter(obj)
    raise ScriptError(f"a {type(obj).__name__} cannot be changed in place in scripts")


def _unpack_sequence(value: Any, spec: dict[str, Any], getiter: Callable[..., Any]) -> list[Any]:
    """``a, b = value``: RestrictedPython's guard, but iterating with plain ``iter`` instead of ``getiter``.

    Unpacking only walks a value that already exists, so it costs no steps: ``first, *rest = ballots`` must
    not spend the budget of a loop.
    """
    return guarded_unpack_sequence(value, spec, iter)


def _iter_unpack_sequence(value: Any, spec: dict[str, Any], getiter: Callable[..., Any]) -> Iterator[list[Any]]:
    """``for a, b in value``: the loop itself counts steps (through ``getiter``), the unpacking does not."""
    for item in getiter(value):
        yield guarded_unpack_sequence(item, spec, iter)


_GUARDS: dict[str, Any] = {
    "__builtins__": _BUILTINS,
    "_getattr_": _getattr,
    "_getitem_": operator.getitem,
    "_write_": _write,
    "_unpack_sequence_": _unpack_sequence,
    "_iter_unpack_sequence_": _iter_unpack_sequence,
    "_inplacevar_": _inplacevar,
    "_apply_": _apply,
    "_add_": _add,
    "_mul_": _mul,
    "_pow_": _pow,
    "_lshift_": _lshift,
    "_mod_": _mod,
    "_format_": _format,
    "_sized_": _sized,
}
"""The names compiled code calls. They start with ``_`` so a script can neither name nor rebind them."""


# -- Step budget -----------------------------------------------------------------------------------------------


class _Budget:
    """Steps and time of one run. Once exceeded it stays exceeded: a script that catches the error keeps
    failing at its next step, and the run fails afterwards even if the script swallowed every error."""

    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.monotonic() + TIME_BUDGET_SECONDS
        self.exceeded: str | None = None

    def step(self, value: _T | None = None) -> _T | None:
        """Count one step; returns ``value`` so a lambda body can be wrapped as ``_step_(body)``."""
        self.steps += 1
        if self.exceeded is None and self.steps > STEP_BUDGET:
            self.exceeded = f"step budget of {STEP_BUDGET} exceeded: a loop or recursion runs too long"
        elif self.exceeded is None and time.monotonic() > self.deadline:
            self.exceeded = f"time budget of {TIME_BUDGET_SECONDS} s exceeded"
        self.check()
        return value

    def iterate(self, iterable: Iterable[_T]) -> Iterator[_T]:
        """``_getiter_``: every ``for`` loop and comprehension iterates through this, one step per item."""
        for item in iterable:
            self.step()
            yield item

    def check(self) -> None:
        """Raise if the budget was exceeded, whether or not the script caught the first error."""
        if self.exceeded is not None:
            raise ScriptError(self.exceeded)


# -- Compile-time policy ---------------------------------------------------------------------------------------


def _call(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    """A call to one of our guards, placed at ``like``'s position so errors point at the script's line."""
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(node, like)  # type: ignore[arg-type]
    return ast.fix_missing_locations(node)


def _step_statement(like: ast.stmt) -> ast.Expr:
    """``_step_()`` as a statement, to open a loop or function body."""
    statement = ast.Expr(_call("_step_", [], like))
    copy_locations(statement, like)
    return statement


_BINOP_GUARDS: dict[type[ast.operator], str] = {
    ast.Add: "_add_",
    ast.Mult: "_mul_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Mod: "_mod_",
}


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, kept whole, plus our refusals and the rewrites the run-time guards rely on.

    Rewriting the operators also means CPython never constant-folds them, so compiling ``9**9**9`` is instant.
    """

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> ast.AST:
        self.error(node, "import statements are not allowed.")
        return node

    visit_ImportFrom = visit_Import  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "class definitions are not allowed.")
        return node

    def visit_Name(self, node: ast.Name) -> Any:
        """RestrictedPython would route ``print`` to a ``_print_`` collector; scripts have nowhere to print to."""
        if isinstance(node.ctx, ast.Load) and node.id in ("print", "printed"):
            self.error(node, f'"{node.id}" is not available: store results in task data instead.')
            return node
        return super().visit_Name(node)

    def visit_While(self, node: ast.While) -> Any:
        """``for`` loops count through ``_getiter_``; a ``while`` loop has no iterator, so it counts here."""
        node = super().visit_While(node)
        node.body.insert(0, _step_statement(node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        """Every call is a step, so recursion (``f(n-1) + f(n-1)``) cannot run unbounded without a loop."""
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _step_statement(node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        """A lambda has no statements, so ``_step_(body)`` counts the call as it returns; every finished call
        still counts, which bounds a call tree, and endless lambda recursion ends in RecursionError."""
        node = super().visit_Lambda(node)
        node.body = _call("_step_", [node.body], node.body)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        """``a ** b`` becomes ``_pow_(a, b)`` and so on for the operators that can build huge values."""
        node = super().visit_BinOp(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        return _call(guard, [node.left, node.right], node) if guard else node

    def visit_List(self, node: ast.List) -> Any:
        return self._size_starred(super().visit_List(node))

    def visit_Tuple(self, node: ast.Tuple) -> Any:
        return self._size_starred(super().visit_Tuple(node))

    def _size_starred(self, node: ast.List | ast.Tuple) -> ast.expr:
        """``[*l, *l]`` becomes ``_sized_([*l, *l])``; assignment targets (``a, *b = l``) are left alone."""
        if isinstance(node.ctx, ast.Load) and any(isinstance(item, ast.Starred) for item in node.elts):
            return _call("_sized_", [node], node)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        """``f'{x!r:>{w}}'`` becomes ``f'{_format_(x, ord("r"), f">{w}")}'`` so the spec is checked at run time."""
        node = super().visit_FormattedValue(node)
        if node.format_spec is not None:
            conversion = ast.Constant(node.conversion)
            node.value = _call("_format_", [node.value, conversion, node.format_spec], node.value)
            node.conversion, node.format_spec = -1, None
        return node


@functools.lru_cache(maxsize=1024)
def _compile(source: str, mode: Literal["exec", "eval"]) -> CodeType:
    """Compile once per source text: the same condition is evaluated on every pass through its gateway."""
    what = "script" if mode == "exec" else "expression"
    compiler = compile_restricted_exec if mode == "exec" else compile_restricted_eval
    try:
        result = compiler(source, filename=SCRIPT_FILENAME, policy=_SandboxPolicy)
    except (MemoryError, RecursionError) as error:  # the parser or our visitor ran out on deep nesting
        raise ScriptError(f"the {what} is nested too deeply to compile") from error
    if result.errors:
        raise ScriptError(f"the {what} was refused: " + " ".join(result.errors), errors=list(result.errors))
    return result.code  # type: ignore[return-value]


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


def _runtime_error(error: Exception) -> ScriptError:
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


# -- Task data in and out: plain JSON values only --------------------------------------------------------------


class _Unstorable(Exception):
    """Internal: a value task data cannot hold. ``path`` collects keys, innermost first, as the error unwinds."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[Any] = []


class _PlainCopier:
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


def _is_data_name(name: str) -> bool:
    """Names starting with ``_`` belong to the sandbox: scripts cannot use them (except the throwaway ``_``),
    they are never written to task data, and task data keys starting with ``_`` are hidden from scripts."""
    return not name.startswith("_")


def _copy_task_data(values: Mapping[str, Any]) -> dict[str, Any]:
    """A plain copy of named task data; errors name the variable, and one item count covers all of it."""
    copier = _PlainCopier()
    return {name: copier.copy(value, f"task data '{name}'", name) for name, value in values.items()}


# -- The environment and the engine ----------------------------------------------------------------------------


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Runs SpiffWorkflow's scripts and expressions under RestrictedPython with budgets and size guards.

    ``environment_globals`` (inherited) and ``external_context`` are trusted host values offered to scripts by
    reference and never written back: whatever callable the host puts there runs unrestricted.
    """

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        """The value of ``expression``; the task data is a copy, so an expression cannot change it."""
        _compile(expression, "eval")  # a refused expression is refused here, before its data is copied out
        return isolation.SCRIPTS.run("eval", expression, self._data(context), self._borrowed(external_context))

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        """Run ``script`` with the task data as its namespace, then write its variables back as task data.

        Assigned names become task data, deleted names leave it. Nothing is written if the script fails or
        leaves a value that is not plain JSON, so a refused script leaves ``context`` as it found it.
        Returns True, which SpiffWorkflow takes as "task complete".
        """
        _compile(script, "exec")
        results = isolation.SCRIPTS.run("exec", script, self._data(context), self._borrowed(external_context))
        for name in [name for name in context if _is_data_name(name) and name not in results]:
            del context[name]
        context.update(results)
        return True

    def _data(self, context: Mapping[str, Any]) -> dict[str, Any]:
        return _copy_task_data({name: value for name, value in context.items() if _is_data_name(name)})

    def _borrowed(self, external_context: Mapping[str, Any] | None) -> dict[str, Any]:
        return {**self.globals, **(external_context or {})}


def run_here(mode: Literal["exec", "eval"], source: str, data: dict[str, Any], borrowed: dict[str, Any]) -> Any:
    """Run a script or expression in this process, on plain task data (``engine.bpmn.isolation`` calls
    it in a script's child): an expression's value, or a script's task data after it ran."""
    namespace = {**borrowed, **data}
    value = _run(_compile(source, mode), namespace)
    if mode == "eval":
        return _PlainCopier().copy(value, "the expression's value")
    return _copy_task_data({k: v for k, v in namespace.items() if _is_data_name(k) and (k in data or k not in borrowed)})


def _run(code: CodeType, namespace: dict[str, Any]) -> Any:
    """Run compiled code in ``namespace`` (to which the guards are added) under a fresh budget."""
    budget = _Budget()
    namespace.update(_GUARDS, _step_=budget.step, _getiter_=budget.iterate)
    try:
        value = eval(code, namespace)  # noqa: S307 - the code was compiled by RestrictedPython with our policy
    except Exception as error:
        raise _runtime_error(error) from error
    budget.check()
    return value


# -- Deploy-time check -----------------------------------------------------------------------------------------


def check_definition_scripts(task_specs: Iterable[TaskSpec], filename: str) -> None:
    """Compile every script and expression of a definition now, so a refused one fails the deployment.

    Otherwise an ``import os`` in a rarely taken branch would deploy fine and fail months later, in the
    middle of a running consultation. Only compile-time refusals can be found here: a name such as ``open``
    might be task data, so names are still checked when the script runs.
    """
    for task_spec in task_specs:
        for what, source, mode in _definition_sources(task_spec):
            if not isinstance(source, str):  # an absent optional expression (no payload, no condition, …)
                continue
            try:
                _compile(source, mode)
            except ScriptError as error:
                raise DefinitionError(
                    f"{what}: {error.message}", file=filename, element_id=task_spec.bpmn_id, **error.details
                ) from error


def check_expression(source: str) -> None:
    """Compile one expression as the sandbox will run it; raises ``ScriptError`` if it is refused.

    For expressions that are not attributes of a task spec, such as the cells of a DMN table.
    """
    _compile(source, "eval")


def _definition_sources(task_spec: TaskSpec) -> Iterator[tuple[str, Any, Literal["exec", "eval"]]]:
    """(what, source, mode) for each script and expression SpiffWorkflow may run for this task spec.

    Duck-typed on the attributes SpiffWorkflow 3.2's spec classes use (script tasks, Spiff pre/post scripts,
    loop and multi-instance tasks, gateways, service task parameters, event definitions). DMN tables are not
    covered: SpiffWorkflow assembles their expressions from cells only when it runs them (still sandboxed).
    """
    for attribute, mode in _SCRIPT_ATTRIBUTES:
        yield attribute, getattr(task_spec, attribute, None), mode
    for condition, target in getattr(task_spec, "cond_task_specs", ()):
        if condition is not None:
            yield f"condition towards {target}", condition.args[0], "eval"
    for name, parameter in (getattr(task_spec, "operation_params", None) or {}).items():
        yield f"parameter {name}", parameter["value"], "eval"
    yield from _event_sources(getattr(task_spec, "event_definition", None))


_SCRIPT_ATTRIBUTES: tuple[tuple[str, Literal["exec", "eval"]], ...] = (
    ("script", "exec"),
    ("prescript", "exec"),
    ("postscript", "exec"),
    ("cardinality", "eval"),
    ("condition", "eval"),
)


def _event_sources(definition: Any) -> Iterator[tuple[str, Any, Literal["exec", "eval"]]]:
    """Timer, conditional and payload expressions, and correlation retrieval expressions, of an event."""
    if definition is None:
        return
    for child in getattr(definition, "event_definitions", ()):
        yield from _event_sources(child)
    yield "event expression", getattr(definition, "expression", None), "eval"
    for prop in [*getattr(definition, "correlation_properties", ()), *getattr(definition, "process_correlations", ())]:
        yield f"correlation property {prop.name}", prop.retrieval_expression, "eval"


class SandboxScriptEngine(PythonScriptEngine):
    """The script engine every BpmnWorkflow must get: SpiffWorkflow's engine running in a SandboxEnvironment."""

    def __init__(self, environment: SandboxEnvironment | None = None) -> None:
        super().__init__(environment=environment or SandboxEnvironment())

    def call_service(self, task: Any, operation_name: str, operation_params: dict[str, Any], **_: Any) -> str:
        """Service tasks run registered operations (live) or their recorded results (replay).

        Overridden rather than inherited: SpiffWorkflow's own version masks failures with a NameError.
        """
        params = {name: param["value"] for name, param in operation_params.items()}
        return service_calls.call(operation_name, params)
