"""Bad input at the HTTP edge is a clear 4xx in the one error shape, never a 500.

Integers too large for the database (in a query, a path or a body) are refused naming the
parameter; a body over the size limit is a 413 however it is sent; every error body matches the
``Error`` schema of the OpenAPI document.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import jsonschema
import marshmallow as ma
import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from api import create_app
from api.limits import DB_INT_MAX, MAX_PAGE
from tests.fixtures import bearer
from tests.helpers import Community

HUGE = 2**63 - 1
METHODS = ("get", "post", "put", "patch", "delete")


def spec_of(client: Any) -> dict[str, Any]:
    return client.get("/api/openapi.json").get_json()


def error_validator(spec: dict[str, Any]) -> jsonschema.Validator:
    """A validator for the OpenAPI document's ``Error`` schema (OpenAPI 3.0 schemas are JSON Schema draft 4, nearly)."""
    return jsonschema.Draft4Validator({"$ref": "#/components/schemas/Error", "components": spec["components"]})


def refused_naming(response: Any, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert [e["field"] for e in error["details"]["errors"]] == [field], error
    assert all(e["message"] for e in error["details"]["errors"])
    return error


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    """(method, path, operation, parameters with the path's own) of every operation in the document."""
    found = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                operation = item[method]
                found.append((method, path, operation, item.get("parameters", []) + operation.get("parameters", [])))
    return found


def fill(path: str, parameters: list[dict[str, Any]], community: Community, **values: int) -> str:
    """The path with each parameter filled in: ``values`` first, the caller's community, then 1 or "x"."""
    kinds = {p["name"]: p["schema"].get("type") for p in parameters if p["in"] == "path"}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return str(values[name])
        if name == "community_id":
            return str(community.id)
        return "1" if kinds[name] == "integer" else "x"

    return re.sub(r"\{(\w+)\}", value, path)


def integers_of(node: Any, where: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every integer schema in a piece of the OpenAPI document, with where it is."""
    if isinstance(node, dict):
        found = [(where, node)] if node.get("type") == "integer" else []
        return found + [hit for key, value in node.items() for hit in integers_of(value, f"{where}/{key}")]
    if isinstance(node, list):
        return [hit for index, value in enumerate(node) for hit in integers_of(value, f"{where}/{index}")]
    return []


def integer_fields(schema: ma.Schema, prefix: str = "") -> list[tuple[str, ma.fields.Integer]]:
    """Every Integer field of a marshmallow schema, nested ones included."""
    found: list[tuple[str, ma.fields.Integer]] = []
    for name, field in schema.fields.items():
        inner = [field] + [f for f in (getattr(field, "inner", None), getattr(field, "value_field", None)) if f]
        for candidate in inner:
            if isinstance(candidate, ma.fields.Integer):
                found.append((f"{prefix}{name}", candidate))
            if isinstance(candidate, ma.fields.Nested):
                found += integer_fields(candidate.schema, f"{prefix}{name}.")
    return found


@pytest.mark.backend_independent
def test_every_integer_in_the_openapi_document_has_bounds(client) -> None:
    integers = integers_of(spec_of(client))
    assert len(integers) > 100
    unbounded = [where for where, schema in integers if "minimum" not in schema or "maximum" not in schema]
    assert not unbounded


@pytest.mark.backend_independent
def test_every_integer_a_request_carries_is_bounded_by_a_validator(client) -> None:
    """Documented bounds are not enough: the schemas of ``@arguments`` enforce them."""
    checked = []
    for endpoint, view in client.application.view_functions.items():
        for argument in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
            schema = argument["schema"]() if isinstance(argument["schema"], type) else argument["schema"]
            for name, field in integer_fields(schema):
                ranges = [v for v in field.validators if isinstance(v, ma.validate.Range)]
                assert any(r.min is not None and r.max is not None for r in ranges), (endpoint, name)
                checked.append((endpoint, name))
    assert len(checked) >= 40


def test_an_id_too_large_for_the_database_is_not_found(client, community: Community) -> None:
    response = client.get(f"/api/opinions/{2**40}", headers=bearer(community.tokens["alice"]))
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_the_last_page_of_every_list_is_bounded_and_a_larger_one_is_refused_naming_page(client, community: Community) -> None:
    spec = spec_of(client)
    paginated = [(path, params) for method, path, _, params in operations(spec)
                 if method == "get" and any(p["name"] == "page" for p in params)]
    assert len(paginated) >= 21
    headers = bearer(community.tokens["chair"])
    for path, params in paginated:
        page = next(p for p in params if p["name"] == "page")
        assert page["schema"]["maximum"] == MAX_PAGE, path
        url = fill(path, params, community)
        for huge in (HUGE, 2**70, MAX_PAGE + 1):
            refused_naming(client.get(f"{url}?page={huge}", headers=headers), 422, "page")
        refused_naming(client.get(f"{url}?page_size={HUGE}", headers=headers), 422, "page_size")


@pytest.mark.parametrize(("query", "field"), [
    ("from=9223372036854775807&to=1", "from"),
    ("from=1&to=9223372036854775807", "to"),
    (f"from=1&to={DB_INT_MAX + 1}", "to"),
])
def test_a_huge_version_in_a_diff_is_refused_naming_it(client, community: Community, query: str, field: str) -> None:
    refused_naming(client.get(f"/api/conventions/1/diff?{query}", headers=bearer(community.tokens["alice"])), 422, field)


@pytest.mark.parametrize("path", ["/api/conventions/1/amendments", "/api/conventions/1/comments"])
def test_a_huge_round_filter_is_refused_naming_it(client, community: Community, path: str) -> None:
    refused_naming(client.get(f"{path}?round={HUGE}", headers=bearer(community.tokens["alice"])), 422, "round")


def test_every_integer_path_parameter_is_bounded_and_a_larger_one_is_not_found_naming_it(client, community: Community) -> None:
    headers = bearer(community.tokens["chair"])
    checked = 0
    for method, path, _, params in operations(spec_of(client)):
        for param in (p for p in params if p["in"] == "path" and p["schema"].get("type") == "integer"):
            assert param["schema"]["maximum"] == DB_INT_MAX, (path, param)
            for huge in (DB_INT_MAX + 1, HUGE, 2**100):
                response = client.open(fill(path, params, community, **{param["name"]: huge}), method=method.upper(),
                                       headers=headers, json={})
                error = refused_naming(response, 404, param["name"])
                assert error["code"] == "not_found"
            checked += 1
    assert checked >= 40


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/votes/x/paper-ballots", {"member_id": HUGE, "choice": "yes"}, "member_id"),
    ("/api/votes/x/paper-ballots", {"member_id": 2**100, "choice": "yes"}, "member_id"),
    ("/api/conventions/1/amendments", {"version": HUGE, "kind": "delete", "article_id": "a1", "rationale": "r"}, "version"),
    ("/api/conventions/1/comments", {"version": DB_INT_MAX + 1, "article_id": "a1", "text": "t"}, "version"),
    ("/api/pdca/cycles/1/corrective-actions",
     {"indicator": "i", "description": "d", "owner_id": HUGE, "due_date": "2030-01-01"}, "owner_id"),
])
def test_a_huge_integer_in_a_body_is_refused_naming_it(client, community: Community, path: str, body: dict[str, Any],
                                                         field: str) -> None:
    refused_naming(client.post(path, json=body, headers=bearer(community.tokens["chair"])), 422, field)


@pytest.mark.parametrize("number", ["1e400", "Infinity", "-Infinity"])
def test_an_infinite_number_for_an_id_is_refused_naming_it(client, community: Community, number: str) -> None:
    response = client.post("/api/votes/x/paper-ballots", data=f'{{"member_id": {number}, "choice": "yes"}}',
                           content_type="application/json", headers=bearer(community.tokens["chair"]))
    refused_naming(response, 422, "member_id")


class Endless(io.RawIOBase):
    """A body of ``size`` bytes made on demand, counting what the server read of it."""

    def __init__(self, size: int, head: bytes = b"") -> None:
        self.data = io.BytesIO(head)
        self.left = size - len(head)
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.data.readinto(buffer)
        if n == 0:
            n = min(len(buffer), self.left)
            buffer[:n] = b" " * n
            self.left -= n
        self.read_bytes += n
        return n


def send_chunked(client: Any, path: str, body: io.RawIOBase, token: str) -> tuple[int, dict[str, Any]]:
    """POST a body with no Content-Length, as a server hands on a ``Transfer-Encoding: chunked`` request.

    The test client always sets a Content-Length, so this builds the WSGI environ itself, as
    gunicorn does for chunked requests (``wsgi.input_terminated``).
    """
    environ = EnvironBuilder(path=path, method="POST", headers={**bearer(token), "Content-Type": "application/json",
                                                                  "Transfer-Encoding": "chunked"}).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = body
    environ["wsgi.input_terminated"] = True
    app_iter, status, _ = run_wsgi_app(client.application, environ, buffered=True)
    return int(status.split()[0]), json.loads(b"".join(app_iter))


def test_a_chunked_body_over_the_limit_is_too_large_and_not_read_to_the_end(client, community: Community) -> None:
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    body = Endless(50 * 1024 * 1024, b'{"definition_key": "consultation", "variables": {}}')
    status, document = send_chunked(client, "/api/instances", body, community.tokens["chair"])
    assert status == 413, document
    assert document["error"]["code"] == "request_entity_too_large"
    assert body.read_bytes <= limit + 1


def test_a_chunked_body_one_byte_over_the_limit_is_too_large(client, community: Community) -> None:
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    status, document = send_chunked(client, "/api/instances", Endless(limit + 1, b'{"definition_key": "consultation"}'),
                                    community.tokens["chair"])
    assert (status, document["error"]["code"]) == (413, "request_entity_too_large")


def test_a_chunked_body_within_the_limit_is_served(client, community: Community) -> None:
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    # Exactly at the limit: JSON padded with trailing spaces.
    status, document = send_chunked(client, "/api/instances", Endless(limit, b'{"definition_key": "consultation"}'),
                                    community.tokens["chair"])
    assert status == 201, document
    assert document["definition_key"] == "consultation"


def test_a_chunked_bundle_may_be_as_large_as_the_bundle_limit_and_no_larger(deployed, community: Community) -> None:
    client = create_app({"TESTING": True, "MAX_CONTENT_LENGTH": 1000, "MAX_BUNDLE_LENGTH": 2000}, engine=deployed).test_client()
    head = b'{"format": "something-else/1"}'
    status, document = send_chunked(client, "/api/audit/verify-bundle", Endless(1500, head), community.tokens["auditor"])
    assert status == 200, document  # a verdict (not a yishi bundle), over the usual limit but within the bundle's
    status, document = send_chunked(client, "/api/audit/verify-bundle", Endless(2001, head), community.tokens["auditor"])
    assert (status, document["error"]["code"]) == (413, "request_entity_too_large")
    status, document = send_chunked(client, "/api/instances", Endless(1001, b'{"definition_key": "x"}'), community.tokens["chair"])
    assert (status, document["error"]["code"]) == (413, "request_entity_too_large")


def test_a_declared_content_length_over_the_limit_is_too_large(client, community: Community) -> None:
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    environ = EnvironBuilder(path="/api/instances", method="POST", data=b"{}", content_type="application/json",
                             headers=bearer(community.tokens["chair"])).get_environ()
    environ["CONTENT_LENGTH"] = str(limit + 1)  # declared, never sent: refused before anything is read
    app_iter, status, _ = run_wsgi_app(client.application, environ, buffered=True)
    assert int(status.split()[0]) == 413
    assert json.loads(b"".join(app_iter))["error"]["code"] == "request_entity_too_large"
    response = client.post("/api/instances", data=b" " * (limit + 1), content_type="application/json",
                           headers=bearer(community.tokens["chair"]))
    assert (response.status_code, response.json["error"]["code"]) == (413, "request_entity_too_large")


def test_every_error_body_matches_the_error_schema_of_the_openapi_document(client, community: Community) -> None:
    spec = spec_of(client)
    validator = error_validator(spec)
    chair, alice = bearer(community.tokens["chair"]), bearer(community.tokens["alice"])
    responses = {
        400: client.post("/api/instances", data="{not json", content_type="application/json", headers=chair),
        401: client.get("/api/instances"),
        403: client.post("/api/instances", json={"definition_key": "consultation"}, headers=alice),
        404: client.get("/api/opinions/12345", headers=alice),
        413: client.post("/api/instances", data=b" " * (client.application.config["MAX_CONTENT_LENGTH"] + 1),
                         content_type="application/json", headers=chair),
        422: client.get("/api/instances?page=0", headers=alice),
    }
    for status, response in responses.items():
        assert response.status_code == status, response.get_json()
        validator.validate(response.get_json())
    assert responses[422].json["error"]["details"]["errors"][0]["field"] == "page"
    # And the schema is the one the API sends, not flask-smorest's default body.
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"code": 404, "status": "Not Found", "message": "gone"})


@pytest.mark.backend_independent
def test_every_operation_documents_its_errors_with_the_one_error_shape(client) -> None:
    spec = spec_of(client)
    error_ref = {"$ref": "#/components/schemas/Error"}
    documented = 0
    for method, path, operation, params in operations(spec):
        responses = operation["responses"]
        assert "default" in responses, (method, path)
        for status, response in responses.items():
            if status.startswith("2"):
                continue
            name = response["$ref"].rsplit("/", 1)[1]
            assert spec["components"]["responses"][name]["content"]["application/json"]["schema"] == error_ref, (path, status)
            documented += 1
        public = operation.get("security") == []
        assert ("401" in responses) != public, (method, path)
        if "requestBody" in operation:
            assert {"413", "422"} <= set(responses), (method, path)
        if any(p["in"] == "path" for p in params):
            assert "404" in responses, (method, path)
    assert documented > 89


@pytest.mark.parametrize(("method", "path", "field"), [
    ("GET", "/api/instances/a%00b", "instance_id"),
    ("GET", "/api/votes/%00", "vote_id"),
    ("GET", "/api/definitions/consultation%00", "key"),
    ("POST", "/api/tasks/%00/complete", "task_id"),
])
def test_a_nul_character_in_the_path_names_nothing(client, community: Community, method: str, path: str, field: str) -> None:
    """PostgreSQL's text cannot hold U+0000: looking it up used to be a DataError, a 500 there."""
    error = refused_naming(client.open(path, method=method, json={}, headers=bearer(community.tokens["chair"])), 404, field)
    assert error["code"] == "not_found"


@pytest.mark.parametrize(("path", "field"), [
    ("/api/instances?definition_key=a%00b", "definition_key"),
    ("/api/tasks?instance_id=%00", "instance_id"),
    ("/api/definitions?key=x%00", "key"),
    ("/api/audit/bundle?public=true&instance=%00", "instance"),
])
def test_a_nul_character_in_the_query_is_refused_naming_it(client, community: Community, path: str, field: str) -> None:
    refused_naming(client.get(path, headers=bearer(community.tokens["chair"])), 422, field)


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/instances", {"definition_key": "consultation\x00"}, "definition_key"),
    ("/api/instances", {"definition_key": "consultation", "variables": {"notes": ["ok", "a\x00b"]}}, "variables.notes.1"),
    ("/api/audit/verify", {"instance": "\x00"}, "instance"),
    ("/api/pdca/cycles/1/records", {"records": [{"subject": "flat\x00"}]}, "records.0.subject"),
])
def test_a_nul_character_in_a_json_body_is_refused_naming_the_field(client, community: Community, path: str,
                                                                     body: dict[str, Any], field: str) -> None:
    refused_naming(client.post(path, json=body, headers=bearer(community.tokens["chair"])), 422, field)


def test_a_nul_character_or_nan_in_a_ballot_or_its_idempotency_key_is_refused_naming_it(client, community: Community) -> None:
    chair, alice = bearer(community.tokens["chair"]), bearer(community.tokens["alice"])
    instance = client.post("/api/instances", json={"definition_key": "vote"}, headers=chair).get_json()
    (task,) = instance["open_tasks"]
    configured = client.post(f"/api/tasks/{task['id']}/complete", headers=chair, json={"data": {"vote": {
        "title": "Chargers", "question": "Adopt the north gate site?", "method": "yes_no_abstain",
        "rule": {"quorum": {"share": "1/2"}}, "secret": True, "electorate": "residents", "deadline": "2030-07-10T18:00"}}})
    assert configured.status_code == 200, configured.get_json()
    vote = client.get(f"/api/instances/{instance['id']}/votes", headers=chair).get_json()[0]["id"]
    refused_naming(client.post(f"/api/votes/{vote}/ballots", json={"choice": "yes\x00"}, headers=alice), 422, "choice")
    refused_naming(client.post(f"/api/votes/{vote}/ballots", data='{"choice": NaN}', content_type="application/json",
                               headers=alice), 422, "choice")
    refused_naming(client.post(f"/api/votes/{vote}/ballots", json={"choice": "yes"},
                               headers={**alice, "Idempotency-Key": "0123456789abcdef\x00"}), 422, "Idempotency-Key")
    assert client.post(f"/api/votes/{vote}/ballots", json={"choice": "yes"}, headers=alice).status_code == 201


def test_a_nul_character_in_a_csv_upload_is_refused(client, community: Community) -> None:
    response = client.post("/api/pdca/cycles/1/records.csv", data="served_at,subject\n2026-03-02T09:30,flat\x00\n",
                           content_type="text/csv", headers=bearer(community.tokens["chair"]))
    refused_naming(response, 422, "csv")


@pytest.mark.parametrize("path", ["/api/instances", "/api/votes/x/paper-ballots", "/api/votes/x/ballots"])
def test_a_number_of_more_digits_than_python_reads_is_invalid_json(client, community: Community, path: str) -> None:
    """json.loads refuses an integer of over 4,300 digits with a ValueError webargs does not expect: it was a 500."""
    body = f'{{"definition_key": "consultation", "member_id": 1{"0" * 5000}, "choice": 1{"0" * 5000}}}'
    response = client.post(path, data=body, content_type="application/json", headers=bearer(community.tokens["chair"]))
    assert (response.status_code, response.json["error"]["code"]) == (400, "invalid_json")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_number_that_is_not_finite_is_refused_naming_the_field(client, community: Community, number: str) -> None:
    """Python's JSON parser takes NaN and Infinity; stored in a form they came back as invalid JSON."""
    body = f'{{"definition_key": "consultation", "variables": {{"ok": 1.5, "x": [{number}]}}}}'
    response = client.post("/api/instances", data=body, content_type="application/json",
                           headers=bearer(community.tokens["chair"]))
    error = refused_naming(response, 422, "variables.x.0")
    assert "finite" in error["details"]["errors"][0]["message"]


@pytest.mark.parametrize("depth", [33, 900, 100_000])
@pytest.mark.parametrize("path", ["/api/instances", "/api/votes/x/ballots"])
def test_a_body_nested_too_deeply_is_refused(client, community: Community, path: str, depth: int) -> None:
    """A thousand nested arrays made the JSON parser raise RecursionError: a 500."""
    nested = "[" * depth + "]" * depth
    body = f'{{"definition_key": "consultation", "variables": {{"x": {nested}}}, "choice": {nested}}}'
    response = client.post(path, data=body, content_type="application/json", headers=bearer(community.tokens["chair"]))
    assert response.status_code == 422, response.get_json()
    messages = [e["message"] for e in response.json["error"]["details"]["errors"]]
    assert messages and all("more than 32 deep" in m for m in messages), messages


def test_a_body_nested_32_deep_is_accepted(client, community: Community) -> None:
    nested = "[" * 30 + "]" * 30  # variables.x is two levels down
    body = f'{{"definition_key": "consultation", "variables": {{"x": {nested}}}}}'
    response = client.post("/api/instances", data=body, content_type="application/json", headers=bearer(community.tokens["chair"]))
    assert response.status_code == 201, response.get_json()
