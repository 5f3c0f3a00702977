"""The messages the API sends that no ``raise`` in the engine or the API spells out, marked for its catalogue.

``_`` here only marks a message for ``scripts/translations`` (it returns it unchanged); ``api/errors.py`` translates
each message when it answers, in the caller's language. Listed here: the API's own fixed messages (one per HTTP
status it rewrites), the messages marshmallow and webargs put on fields (their ``{min}``-style placeholders written
as ``%(min)s``: ``api/errors.py`` matches a sent message against these patterns), the API's own field messages
(``api/limits.py``), and the parts of a definition error's "where". The messages raised as engine errors are read off
the source by ``scripts/translations`` itself.
"""

from __future__ import annotations


def _(message: str) -> str:
    return message


INVALID_JSON = _("the request body is not valid JSON")
SCHEMA_MISMATCH = _("the request does not match its schema")
INTERNAL = _("an unexpected error occurred; it has been logged")

HTTP = {
    400: _("the request is not valid"),
    401: _("no valid credentials: send an API token as 'Authorization: Bearer <token>'"),
    403: _("you may not do this"),
    404: _("there is nothing at this address: check the path against the API documentation (/api/docs)"),
    405: _("this method is not allowed here: the API documentation (/api/docs) lists the methods of each path"),
    406: _("the API answers in JSON only"),
    409: _("the current state does not allow this"),
    413: _("the request body is larger than the server accepts"),
    415: _("this content type is not accepted: send JSON (Content-Type: application/json)"),
    422: _("the request does not match its schema"),
    429: _("too many requests: wait a moment and try again"),
    500: _("an unexpected error occurred; it has been logged"),
    503: _("the service is unavailable for a moment: try again shortly"),
}
"""The message of each HTTP error Flask or werkzeug raises (their own descriptions are English prose for browsers)."""

FIELDS = (
    # marshmallow's fields
    _("Missing data for required field."),
    _("Field may not be null."),
    _("Invalid value."),
    _("Invalid input."),
    _("Invalid type."),
    _("Invalid input type."),
    _("Unknown field."),
    _("Not a valid boolean."),
    _("Not a valid date."),
    _("Not a valid datetime."),
    _("Not a valid naive datetime."),
    _("Not a valid aware datetime."),
    _("Not a valid time."),
    _("Not a valid mapping type."),
    _("Not a valid email address."),
    _("Not a valid integer."),
    _("Not a valid list."),
    _("Not a valid number."),
    _("Number too large."),
    _("Not a valid string."),
    _("Not a valid utf-8 string."),
    _("Not a valid period of time."),
    _("Not a valid tuple."),
    _("Not a valid URL."),
    _("Not a valid UUID."),
    _("Not a valid %(type)s."),
    _("Special numeric values (nan or infinity) are not permitted."),
    _("String does not match expected pattern."),
    # marshmallow's validators
    _("Must be one of: %(choices)s."),
    _("Length must be between %(min)s and %(max)s."),
    _("Length must be %(equal)s."),
    _("Longer than maximum length %(max)s."),
    _("Shorter than minimum length %(min)s."),
    _("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
    _("Must be greater than %(min)s and less than %(max)s."),
    _("Must be greater than or equal to %(min)s."),
    _("Must be greater than %(min)s."),
    _("Must be less than or equal to %(max)s."),
    _("Must be less than %(max)s."),
    _("Must be equal to %(other)s."),
    _("One or more of the choices you made was not in: %(choices)s."),
    # the API's own (api/limits.py)
    _("%(name)s must be between 0 and %(max)s"),
    _("must not contain NUL characters (U+0000)"),
    _("its name must not contain NUL characters (U+0000)"),
    _("must be a finite number (JSON has no NaN or Infinity, and this one is too large for a double)"),
    _("nests arrays and objects more than %(depth)s deep"),
)

WHERE = {
    "file": _("file %(file)s"),
    "element_id": _("element %(element_id)s"),
    "line": _("line %(line)s"),
}
"""A definition error names where it is (``engine.kernel.errors.DefinitionError``), each part translated."""
WHERE_FORMAT = _("%(message)s (%(where)s)")
