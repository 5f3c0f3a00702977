"""Size guards and allow-lists: the operators, builtins and methods a script may use, each bounded so that no
single C call can build a huge value (``'a' * 10**10``, ``9**9**9``)."""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any, TypeVar

from RestrictedPython.Guards import guarded_unpack_sequence, safer_getattr

from engine.kernel.errors import ScriptError


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


GUARDS: dict[str, Any] = {
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
