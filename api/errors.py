"""One JSON error shape for every failure: ``{"error": {"code", "message", "details"}}``.

Engine errors map to status codes by kind; HTTP errors raised by Flask or by request parsing
(malformed JSON, unknown route, body too large, schema errors) are rewritten into the same shape.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

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
log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> ResponseReturnValue:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="yishi"'
    return response


def _engine_error(exc: errors.YishiError) -> ResponseReturnValue:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    return error_response(status, exc.code, exc.message, exc.details)


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    if status == 400 and "messages" in data:
        return error_response(400, "invalid_json", "the request body is not valid JSON")
    if status == 422 and "messages" in data:
        return error_response(422, "invalid_input", "the request does not match its schema", {"errors": _field_errors(data["messages"])})
    code = (exc.name or "error").lower().replace(" ", "_")
    return error_response(status, code, exc.description or exc.name)


def _unexpected(exc: Exception) -> ResponseReturnValue:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")


def _field_errors(messages: dict[str, Any], prefix: str = "") -> list[dict[str, str]]:
    """Flatten webargs' nested ``{"json": {"field": ["msg"]}}`` into a list of field errors."""
    flat: list[dict[str, str]] = []
    for key, value in messages.items():
        path = f"{prefix}.{key}" if prefix and key not in LOCATIONS else (prefix or ("" if key in LOCATIONS else str(key)))
        if isinstance(value, dict):
            flat.extend(_field_errors(value, path))
        else:
            for message in value if isinstance(value, list) else [value]:
                flat.append({"field": path, "message": str(message)})
    return flat


def error_for(exc: Exception) -> ResponseReturnValue:
    """The response the handlers below give for ``exc`` (in an app context), for a request served beside Flask."""
    if isinstance(exc, errors.YishiError):
        return _engine_error(exc)
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    return _unexpected(exc)


def register(app: Flask) -> None:
    app.register_error_handler(errors.YishiError, _engine_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
