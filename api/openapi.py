"""The OpenAPI document's error responses: one ``Error`` shape, documented once, referenced by every operation.

flask-smorest documents its own default error body (``code``, ``status``, ``message``, ``errors``);
the API sends ``{"error": {"code", "message", "details"}}`` (``api.errors``). ``YishiApi`` documents
that shape as the component schema ``Error``, one response component per status the API sends,
and the plugin ``ErrorResponses`` adds to each operation a reference to every error status it can
answer with, by what the operation takes: a token (401, 403), a path (404), a body (400, 404,
413, 422), a query (422), a change of state (409). Anything else (a 500) is the ``default``.
"""

from __future__ import annotations

import http
import threading
from typing import Any

from apispec import BasePlugin
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields

from api.limits import DB_INT_MAX

ERROR_RESPONSES = {
    400: "The request body is not valid JSON.",
    401: "No valid API token: send `Authorization: Bearer <token>`.",
    403: "The caller's roles do not allow this (`details.required` names the roles that do, when a role would).",
    404: "Not found, or in another community; an integer out of range in the path names nothing either.",
    409: "The current state does not allow it (a task already completed, a period closed, a concurrent change).",
    413: "The request body is larger than the server accepts (`MAX_CONTENT_LENGTH`), however it is sent.",
    422: "Invalid input: `details.errors` lists each failing field with its message.",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "Stable and machine-readable, e.g. not_found, invalid_input."})
    message = fields.String(required=True, metadata={"description": "For people."})
    details = fields.Dict(metadata={
        "description": "Structured context, when there is some: `errors` (a list of {field, message}), "
                       "`required` (roles), the current text of a stale version, …"})


class ErrorSchema(Schema):
    """Every error response: ``{"error": {"code", "message", "details"}}``."""

    error = fields.Nested(ErrorBodySchema, required=True)


def integer_bounds(self: Any, field: fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every integer in the document has bounds (an apispec attribute function).

    An integer a request carries has its own ``Range`` validator, enforced and documented as such
    (tests/test_api_errors.py checks that each has one). The integers of responses — ids, counts,
    positions, numbers — are those of the database's integer columns: 0 to ``DB_INT_MAX``.
    """
    if isinstance(field, fields.Integer) and ret.get("type") == "integer":
        return {"minimum": ret.get("minimum", 0), "maximum": ret.get("maximum", DB_INT_MAX)}
    return {}


class YishiApi(Api):
    """flask-smorest's ``Api``, documenting the API's own error shape and the bounds of every integer.

    Its blueprints' views are documented when the document is first read (``spec``), not as each blueprint is
    registered: that was half the cost of ``create_app`` (a tenth of a second), paid by every gunicorn worker and
    by every test that makes an app, most of which never read the document."""

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._undocumented: list[tuple[Any, str, Any]] = []
        self._documenting = threading.Lock()
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def spec(self) -> Any:
        """The document, with the views of every blueprint registered so far."""
        if self._undocumented:
            with self._documenting:
                pending, self._undocumented = self._undocumented, []
                for blueprint, name, parameters in pending:
                    blueprint.register_views_in_doc(self, self._app, self._spec, name=name, parameters=parameters)
                    self._spec.tag({"name": name, "description": blueprint.description})
        return self._spec

    @spec.setter
    def spec(self, value: Any) -> None:
        self._spec = value

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """flask-smorest's, but the views are documented later, in order (``spec``)."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

    def _init_spec(self, *args: Any, **kwargs: Any) -> None:
        super()._init_spec(*args, **kwargs)
        self.ma_plugin.converter.add_attribute_function(integer_bounds)

    def _register_pagination_header(self) -> None:
        """Lists carry their page in the body (``api.schemas.page_of``), not in flask-smorest's
        ``X-Pagination`` header: the document keeps no unused header and schema for it."""

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": ERROR_RESPONSES.get(status.value, status.phrase)}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An unexpected error (500), in the same shape.", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


class ErrorResponses(BasePlugin):
    """Adds to each operation the error statuses it can answer with (an apispec plugin)."""

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any) -> None:
        rule = kwargs.get("rule")
        in_path = bool(rule is not None and rule.arguments)
        for method, operation in (operations or {}).items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            for status in statuses_of(method, operation, in_path):
                operation.setdefault("responses", {}).setdefault(str(status), http.HTTPStatus(status).name)


def statuses_of(method: str, operation: dict[str, Any], in_path: bool) -> list[int]:
    """The error statuses an operation can answer with, from what it takes."""
    statuses: set[int] = set()
    if operation.get("security") != []:
        statuses |= {401, 403}
    body = operation.get("requestBody", {}).get("content", {})
    if body:
        statuses |= {404, 413, 422}
        if "application/json" in body:
            statuses.add(400)
    if in_path:
        statuses.add(404)
    if any(p.get("in") == "query" for p in operation.get("parameters", []) if isinstance(p, dict)):
        statuses.add(422)
    if method in WRITE_METHODS:
        statuses.add(409)
    return sorted(statuses)
