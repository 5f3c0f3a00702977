"""Bounds on what a request may carry: integers that fit the database, text the database can hold,
and bodies that fit the limit.

An integer larger than the database's integer columns used to reach the query and fail there
(``OverflowError`` on SQLite, ``NumericValueOutOfRange`` on PostgreSQL): a 500. Every integer the
API reads — in a path, a query or a body — is bounded here or in its marshmallow schema
(``api.schemas``), and a value out of bounds is a 4xx that names the parameter. Likewise a NUL
character, which PostgreSQL's text and jsonb cannot hold (``DataError``, a 500 there), is refused
wherever the API reads text: path, query, headers, JSON body (``Parser``) and CSV uploads; and so
is a number that is not finite in a JSON body.
"""

from __future__ import annotations

import math
from typing import Any

import marshmallow as ma
from flask import Request
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter, ValidationError
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from engine.kernel.errors import NotFound

DB_INT_MAX = 2**31 - 1
"""The largest value of the database's integer columns (PostgreSQL's INTEGER is 32 bits): ids, versions, rounds, seqs."""
MAX_PAGE = 1_000_000
"""The last page a list can be asked for: 100 million rows at the largest page size."""


class DatabaseInteger(IntegerConverter):
    """Integers in URLs, documented (in the OpenAPI document) as fitting the database's integer columns.

    A larger value still matches its route, so that :func:`check_path_values` can answer 404 and
    name the parameter, rather than the router answering a bare 404 for "no such URL".
    """

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(url_map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        try:
            return int(value)
        except ValueError as exc:  # more digits than Python converts (sys.get_int_max_str_digits)
            raise ValidationError() from exc


NUL_MESSAGE = "must not contain NUL characters (U+0000)"


def check_path_values(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A ``url_value_preprocessor``: an integer out of bounds or a NUL character in the path names nothing that exists."""
    for name, value in (values or {}).items():
        if isinstance(value, int) and not 0 <= value <= DB_INT_MAX:
            message = f"{name} must be between 0 and {DB_INT_MAX}"
            raise NotFound(f"nothing has this {name}: {message}", errors=[{"field": name, "message": message}])
        if isinstance(value, str) and "\x00" in value:
            raise NotFound(f"nothing has this {name}: it {NUL_MESSAGE}", errors=[{"field": name, "message": NUL_MESSAGE}])


FINITE_MESSAGE = "must be a finite number (JSON has no NaN or Infinity, and this one is too large for a double)"
MAX_JSON_DEPTH = 32
"""How deeply a JSON body may nest arrays and objects: forms nest a few levels, and a body nested a
thousand deep made the parser (or anything after it that recurses) raise RecursionError, a 500."""
DEPTH_MESSAGE = f"nests arrays and objects more than {MAX_JSON_DEPTH} deep"


def unstorable(value: Any, *, stored: bool = True) -> Any:
    """What in ``value`` (parsed JSON) the API refuses, as marshmallow nests messages; None if nothing.

    Nesting deeper than ``MAX_JSON_DEPTH``; and in what is ``stored``, what the database cannot store:
    a NUL character in a string or a key, or a number that is not finite (``NaN`` and
    ``Infinity``, which Python's JSON parser accepts though JSON has neither, and ``1e400``, which
    it reads as infinity), which would be stored in a form or a row and sent back as invalid JSON.
    The walk keeps its own stack: it must not recurse on what it is there to refuse.
    """
    found: list[tuple[tuple[Any, ...], str]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, (dict, list)) and len(path) >= MAX_JSON_DEPTH:
            found.append((path, DEPTH_MESSAGE))
        elif isinstance(item, dict):
            for key, inner in item.items():
                if stored and "\x00" in str(key):
                    found.append(((*path, str(key).replace("\x00", "\\u0000")), f"its name {NUL_MESSAGE}"))
                else:
                    stack.append(((*path, key), inner))
        elif isinstance(item, list):
            stack.extend(((*path, index), inner) for index, inner in enumerate(item))
        elif stored and isinstance(item, str) and "\x00" in item:
            found.append((path, NUL_MESSAGE))
        elif stored and isinstance(item, float) and not math.isfinite(item):
            found.append((path, FINITE_MESSAGE))
    if not found:
        return None
    messages: dict[Any, Any] = {}
    for path, message in sorted(found, key=lambda entry: [str(step) for step in entry[0]]):
        if not path:
            return {"_schema": [message]}
        node = messages
        for step in path[:-1]:
            node = node.setdefault(step, {})
            if not isinstance(node, dict):  # a message already stands higher up
                break
        else:
            node.setdefault(path[-1], []).append(message)
    return messages


class Parser(FlaskParser):
    """webargs' parser for flask-smorest's ``@arguments``: what the database cannot store is refused (422 naming each
    field) wherever it reads, and a JSON number of more digits than Python reads is invalid JSON (400), not a 500.

    A body schema with ``verified_in_memory = True`` takes NUL and NaN: it is checked in memory and never stored.
    """

    def load_json(self, req: Any, schema: ma.Schema) -> Any:
        try:
            data = super().load_json(req, schema)
        except ValueError as exc:  # not a JSONDecodeError: a number of more than 4,300 digits (int_max_str_digits)
            self._handle_invalid_json_error(exc, req)  # type: ignore[arg-type]
        except RecursionError as exc:  # nested deeper than the parser goes
            raise ma.ValidationError({"_schema": [DEPTH_MESSAGE]}) from exc
        return self._refuse(data, stored=not getattr(schema, "verified_in_memory", False))

    def load_querystring(self, req: Any, schema: ma.Schema) -> Any:
        self._refuse({key: "".join(req.args.getlist(key)) for key in req.args})
        return super().load_querystring(req, schema)

    def load_headers(self, req: Any, schema: ma.Schema) -> Any:
        self._refuse(dict(req.headers.items()))
        return super().load_headers(req, schema)

    @staticmethod
    def _refuse(data: Any, *, stored: bool = True) -> Any:
        found = unstorable(data, stored=stored)
        if found is not None:
            raise ma.ValidationError(found)
        return data


class CappedStream(LimitedStream):
    """A request body that may be at most ``limit`` bytes, however it is read.

    werkzeug's own cap (``LimitedStream(..., is_max=True)``) raises only when a read goes *past*
    the limit; reading the whole body in one go stops at the limit and returns its first ``limit``
    bytes without complaint, so a chunked upload (no Content-Length) larger than the limit reached
    the JSON parser cut short: "not valid JSON" instead of 413. This reads one byte further, and a
    body that has it is too large.
    """

    def __init__(self, stream: Any, limit: int) -> None:
        super().__init__(stream, limit + 1, is_max=True)
        self.max_length = limit

    def readinto(self, b: Any) -> int | None:  # type: ignore[override]
        size = super().readinto(b)
        if self._pos > self.max_length:
            raise RequestEntityTooLarge()
        return size


class BoundedRequest(Request):
    """Flask's request, whose streamed bodies (chunked, with no Content-Length) are held to ``max_content_length`` too."""

    @cached_property
    def stream(self) -> Any:  # type: ignore[override]
        if self.shallow:
            raise RuntimeError("This request was created with 'shallow=True', reading from the input stream is disabled.")
        limit = self.max_content_length
        if limit is None or self.content_length is not None or "wsgi.input_terminated" not in self.environ:
            return get_input_stream(self.environ, max_content_length=limit)
        return CappedStream(self.environ["wsgi.input"], limit)
