"""One JSON error shape for every failure: ``{"error": {"code", "message", "details"}}``, in the caller's language.

Engine errors map to status codes by kind; HTTP errors raised by Flask or by request parsing
(malformed JSON, unknown route, body too large, schema errors) are rewritten into the same shape.

Languages
---------
Every message is sent in the language ``Accept-Language`` asks for (Simplified Chinese for ``zh-CN`` — ``zh`` and
``zh-Hans`` too — else English: ``web.i18n.select_locale``); the ``code``, the status, the shape and the ``field`` of
each field error never change, so programs keep reading the code while people read the message. The message comes
from the API's catalogue, ``api/translations`` (``scripts/translations update api``, then translate), which holds:

- the API's own messages and the field messages of marshmallow and webargs (marked in ``api/messages.py``);
- every message the engine and the API raise as a ``YishiError`` (``raise NotFound("opinion not found")``) or put
  in a field error (``{"field": …, "message": …}``), read off their source by ``scripts/translations``: the engine
  speaks English and knows nothing of gettext, and its ~250 call sites stay as they are.

A message is translated exactly when the catalogue has it (every constant message). A formatted one
(``f"the convention has no version {number}"``) was extracted as a pattern, ``the convention has no version
%(number)s``: the sent message is matched against the catalogue's patterns and the translated pattern is filled
with the values it captured; when several match (``nothing has this %(name)s: %(message)s`` and ``%(name)s must be
between 0 and %(max)s`` both match a message built from the two), the one leaving the least English wins. The values stay as they are (a key,
a number, a status), except a placeholder named ``message``, ``reason``, ``why`` or ``…_message``, itself
translated in turn. A message no catalogue entry matches (one computed at run time: a sandbox's or a JSON Schema
validator's) is sent in English. Outside a request (a response rendered with an app context only) every message
is English. ``tests/test_translations.py`` fails while any extracted message lacks its translation, so a new engine
message comes with its Chinese.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from flask import Flask, has_request_context, jsonify
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, get_translations
from werkzeug.exceptions import HTTPException

from api import messages
from engine.kernel import errors

STATUS = {
    errors.NotFound: 404,
    errors.PermissionDenied: 403,
    errors.Unauthenticated: 401,
    errors.Conflict: 409,
    errors.InvalidInput: 422,
    errors.ScriptError: 422,
}
LOCATIONS = ("json", "query", "path", "headers")
"""webargs nests errors under where the value came from; clients want the field's own name."""
CATALOGUE = Path(__file__).resolve().parent / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
"""The API's catalogue: its msgids with placeholders are the patterns formatted messages are matched against."""
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
TRANSLATED_VALUES = frozenset({"message", "reason", "why"})
"""The placeholders whose captured value is itself a message (and those named ``…_message``), translated in turn."""
log = logging.getLogger(__name__)


# --- translation ----------------------------------------------------------------------------------------------------

@cache
def patterns() -> tuple[tuple[re.Pattern[str], str, bool], ...]:
    """(regular expression, msgid, generic) of every msgid of the API's catalogue with placeholders, the most specific
    first; a generic one (``%(field)s: %(message)s``: no word of its own) only passes a translated value on."""
    if not CATALOGUE.exists():
        return ()
    with CATALOGUE.open("rb") as file:
        catalogue = read_po(file)
    found = []
    for entry in catalogue:
        msgid = entry.id
        if not isinstance(msgid, str) or not PLACEHOLDER.search(msgid):
            continue
        regex, seen, fixed, words, at = [], set(), 0, "", 0
        for match in PLACEHOLDER.finditer(msgid):
            literal = msgid[at:match.start()].replace("%%", "%")
            regex.append(re.escape(literal))
            fixed, words = fixed + len(literal), words + literal
            name = match.group(1)
            regex.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
            seen.add(name)
            at = match.end()
        literal = msgid[at:].replace("%%", "%")
        regex.append(re.escape(literal))
        fixed, words = fixed + len(literal), words + literal
        generic = not re.search(r"[^\W\d_]", words)
        found.append((fixed, re.compile("".join(regex), re.DOTALL), msgid, generic))
    found.sort(key=lambda item: -item[0])
    return tuple((pattern, msgid, generic) for _fixed, pattern, msgid, generic in found)


def _is_message(placeholder: str) -> bool:
    return placeholder in TRANSLATED_VALUES or placeholder.endswith("_message")


def _translating() -> bool:
    if not has_request_context():
        return False
    locale = get_locale()
    return locale is not None and locale.language != "en"


def translate(message: str) -> str:
    """``message`` in the request's language: exactly, else through the first pattern it matches, else as it is."""
    if not message or not _translating():
        return message
    catalogue = get_translations()
    exact = catalogue.gettext(message)
    if exact != message:
        return exact
    best: tuple[int, str] | None = None
    for pattern, msgid, generic in patterns():
        match = pattern.fullmatch(message)
        if match is None:
            continue
        translated = catalogue.gettext(msgid)
        if translated == msgid:
            continue
        found = match.groupdict()
        values = {name: translate(value) if _is_message(name) and len(value) < len(message) else value
                  for name, value in found.items()}
        if generic and values == found:  # nothing of it in Chinese: not a translation
            continue
        try:
            candidate = translated % values
        except (KeyError, ValueError, TypeError):  # a translation with broken placeholders: better English than nothing
            log.warning("the translation of %r does not format", msgid)
            continue
        english_left = sum(len(value) for name, value in values.items() if value == found[name])
        if best is None or english_left < best[0]:
            best = (english_left, candidate)
    return best[1] if best is not None else message


def _formatted(msgid: str, **values: Any) -> str:
    """A message of the catalogue with its values (``msgid`` written with ``%(name)s`` placeholders)."""
    translated = translate(msgid) if _translating() else msgid
    try:
        return translated % values
    except (KeyError, ValueError, TypeError):
        return msgid % values


def _message_of(exc: errors.YishiError) -> str:
    """An engine error's message; a definition error's "(file …, element …, line …)" is translated part by part."""
    if isinstance(exc, errors.DefinitionError):
        parts = [(key, exc.details[key]) for key in messages.WHERE if exc.details.get(key)]
        english = ", ".join(messages.WHERE[key] % {key: value} for key, value in parts)
        suffix = f" ({english})"
        if parts and exc.message.endswith(suffix):
            where = ", ".join(_formatted(messages.WHERE[key], **{key: value}) for key, value in parts)
            return _formatted(messages.WHERE_FORMAT, message=translate(exc.message[:-len(suffix)]), where=where)
    return translate(exc.message)


def _details_of(exc: errors.YishiError) -> dict[str, Any]:
    """The details, each field error's message translated (a copy: the exception keeps its own)."""
    details = dict(exc.details)
    found = details.get("errors")
    if isinstance(found, list):
        details["errors"] = [{**error, "message": translate(error["message"])}
                             if isinstance(error, dict) and isinstance(error.get("message"), str) else error
                             for error in found]
    return details


# --- responses ------------------------------------------------------------------------------------------------------

def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> ResponseReturnValue:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="yishi"'
    if _translating():
        response.headers["Content-Language"] = "zh-CN"
    return response


def _engine_error(exc: errors.YishiError) -> ResponseReturnValue:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    return error_response(status, exc.code, _message_of(exc), _details_of(exc))


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    if status == 400 and "messages" in data:
        return error_response(400, "invalid_json", translate(messages.INVALID_JSON))
    if status == 422 and "messages" in data:
        return error_response(422, "invalid_input", translate(messages.SCHEMA_MISMATCH), {"errors": _field_errors(data["messages"])})
    code = (exc.name or "error").lower().replace(" ", "_")
    own = exc.description and exc.description != type(exc).description  # raised with words of its own
    message = exc.description if own else messages.HTTP.get(status, exc.description or exc.name)
    return error_response(status, code, translate(message or code))


def _unexpected(exc: Exception) -> ResponseReturnValue:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", translate(messages.INTERNAL))


def _field_errors(messages_: dict[str, Any], prefix: str = "") -> list[dict[str, str]]:
    """Flatten webargs' nested ``{"json": {"field": ["msg"]}}`` into a list of field errors."""
    flat: list[dict[str, str]] = []
    for key, value in messages_.items():
        path = f"{prefix}.{key}" if prefix and key not in LOCATIONS else (prefix or ("" if key in LOCATIONS else str(key)))
        if isinstance(value, dict):
            flat.extend(_field_errors(value, path))
        else:
            for message in value if isinstance(value, list) else [value]:
                flat.append({"field": path, "message": translate(str(message))})
    return flat


def error_for(exc: Exception) -> ResponseReturnValue:
    """The response the handlers below give for ``exc``, for a request served beside Flask: in a request context its
    message follows the request's ``Accept-Language``; in an app context only, it is English."""
    if isinstance(exc, errors.YishiError):
        return _engine_error(exc)
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    return _unexpected(exc)


def register(app: Flask) -> None:
    app.register_error_handler(errors.YishiError, _engine_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
