"""Steps every feature shares: how a refused request looks in the one JSON error shape.

Loaded as a pytest plugin (see the root conftest.py), so each feature's step module uses them
without repeating them; each module keeps its own ``ctx`` fixture, which holds the response.
"""

from __future__ import annotations

from typing import Any

from pytest_bdd import parsers, then
from werkzeug.test import TestResponse


def error_of(response: TestResponse) -> dict[str, Any]:
    body = response.get_json()
    assert set(body) == {"error"}, body
    return body["error"]


@then(parsers.parse('the request is refused with {status:d} "{code}"'))
def refused(status: int, code: str, ctx: dict[str, Any]) -> None:
    response = ctx["response"]
    assert response.status_code == status, response.get_json()
    error = error_of(response)
    assert error["code"] == code
    assert error["message"]


@then(parsers.parse('the error message says "{text}"'))
def message_says(text: str, ctx: dict[str, Any]) -> None:
    assert text in error_of(ctx["response"])["message"]


@then(parsers.parse('the error names the required role "{role}"'))
def required_role(role: str, ctx: dict[str, Any]) -> None:
    assert error_of(ctx["response"])["details"]["required"] == [role]


@then(parsers.parse('the errors name exactly the fields "{fields}"'))
def errors_name_fields(fields: str, ctx: dict[str, Any]) -> None:
    errors = error_of(ctx["response"])["details"]["errors"]
    assert all(e["message"] for e in errors), errors
    assert {e["field"] for e in errors} == {f.strip() for f in fields.split(",")}, errors
