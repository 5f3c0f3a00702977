"""The cast route served beside Flask (``api.fast_cast``) answers exactly as the Flask route does.

Each request goes to two apps over the same database: the real one (fast path in front) and its
Flask app alone. Receipts are random, so a 201 is compared by shape and checked against what was
stored; every refusal is compared byte for byte, headers included.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import Client

from api.app import create_app

from engine.bootstrap import Engine
from engine.voting import casting
from engine.voting.counting import board
from tests.builders import add_member, identity_token, open_vote
from tests.helpers import Community

RECEIPT_KEYS = {"vote_id", "receipt", "fingerprint", "changed"}


def post(client: Client, path: str, token: str | None, body: Any = None, raw: bytes | None = None, **headers: str) -> Any:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if raw is not None:
        return client.post(path, data=raw, headers=headers, content_type=headers.pop("content_type", "application/json"))
    return client.post(path, json=body, headers=headers)


def same(fast: Any, slow: Any) -> None:
    assert fast.status_code == slow.status_code, (fast.get_data(), slow.get_data())
    assert fast.get_data() == slow.get_data()
    assert {k: v for k, v in fast.headers if k != "Date"} == {k: v for k, v in slow.headers if k != "Date"}


def test_refusals_are_the_flask_routes_own(apps: tuple[Client, Client, list[int]], deployed: Engine, community: Community) -> None:
    fast, slow, seen = apps
    _, vote_id = open_vote(deployed, community)
    path = f"/api/votes/{vote_id}/ballots"
    alice, bob = community.tokens["alice"], community.tokens["bob"]
    outsider = add_member(deployed, community, "Olga", ["committee"])
    outsider_token = identity_token(deployed, community, outsider)
    key = str(uuid.uuid4())
    assert post(fast, path, alice, {"choice": "yes"}, **{"Idempotency-Key": key}).status_code == 201

    cases = [
        (path, alice, {"choice": "no"}, None, {"Idempotency-Key": key}),        # key reused for another ballot: 409
        (path, alice, {"choice": "no"}, None, {}),                              # already voted, no receipt: 409
        (path, alice, {"choice": "no", "receipt": "x" * 32}, None, {}),         # not the latest receipt: 409
        (path, bob, {"choice": "maybe"}, None, {}),                             # not an option: 422
        (path, bob, {"choice": "yes"}, None, {"Idempotency-Key": "short"}),    # 422, from the header schema
        (path, bob, {"choice": "yes", "extra": 1}, None, {}),                   # unknown field: 422
        (path, bob, {}, None, {}),                                              # missing choice: 422
        (path, bob, ["yes"], None, {}),                                         # not an object: 422
        (path, bob, None, b"{not json", {}),                                    # 400
        (path, bob, None, b"choice=yes", {"content_type": "text/plain"}),       # not JSON at all: 422
        (path, None, {"choice": "yes"}, None, {}),                              # no token: 401
        (path, "ys_unknown", {"choice": "yes"}, None, {}),                      # unknown token: 401
        (path, outsider_token, {"choice": "yes"}, None, {}),                    # not in the electorate: 403
        ("/api/votes/no-such-vote/ballots", bob, {"choice": "yes"}, None, {}),  # 404
        (path + "/", bob, {"choice": "yes"}, None, {}),                         # another route: 404
    ]
    for where, token, body, raw, headers in cases:
        same(post(fast, where, token, body, raw, **headers), post(slow, where, token, body, raw, **headers))
    assert seen[0] == 8  # the engine's seven refusals (409 ×3, 422 for the choice, 401 for the unknown token, 403, 404) were the fast path's


def test_a_cast_answers_as_the_flask_route_and_stores_the_same(
    apps: tuple[Client, Client, list[int]], deployed: Engine, community: Community
) -> None:
    fast, slow, seen = apps
    _, vote_id = open_vote(deployed, community)
    path = f"/api/votes/{vote_id}/ballots"
    answers = [post(fast, path, community.tokens["alice"], {"choice": "yes"}),
               post(slow, path, community.tokens["bob"], {"choice": "yes"})]
    assert seen[0] == 0
    assert [a.status_code for a in answers] == [201, 201]
    assert [{k: v for k, v in a.headers if k not in ("Date", "Content-Length")} for a in answers] == [
        {"Content-Type": "application/json"}] * 2
    for answer in answers:
        body = answer.get_json()
        assert set(body) == RECEIPT_KEYS and body["vote_id"] == vote_id and body["changed"] is False
        assert body["fingerprint"] == board.fingerprint(vote_id, body["receipt"])
        assert answer.get_data() == (answer.get_data(as_text=True).rstrip("\n") + "\n").encode()

    change = {"choice": "no", "receipt": answers[0].get_json()["receipt"]}
    changed = post(fast, path, community.tokens["alice"], change)
    assert changed.status_code == 201 and changed.get_json()["changed"] is True
    assert seen[0] == 0


def test_an_unexpected_failure_is_the_same_json_500(
    apps: tuple[Client, Client, list[int]], deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow, seen = apps
    _, vote_id = open_vote(deployed, community)

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(casting, "cast", broken)
    path = f"/api/votes/{vote_id}/ballots"
    answers = [post(client, path, community.tokens["alice"], {"choice": "yes"}) for client in (fast, slow)]
    same(*answers)
    assert answers[0].status_code == 500 and answers[0].get_json()["error"]["code"] == "internal_error"
    assert seen[0] == 0


def test_an_app_hook_the_fast_path_would_skip_stops_the_app_at_its_first_request(deployed: Engine) -> None:
    """A request hook added to the app (or to the votes blueprint) would not run for ballots served beside
    Flask; rather than let a middleware silently miss the busiest endpoint, the app refuses to serve."""
    app = create_app({"TESTING": True}, engine=deployed)

    @app.before_request
    def audit_every_request() -> None:
        return None

    with pytest.raises(RuntimeError, match="audit_every_request"):
        Client(app).get("/api/health")


def test_hooks_of_other_blueprints_and_the_ones_it_stands_in_for_let_it_serve(deployed: Engine) -> None:
    app = create_app({"TESTING": True}, engine=deployed)
    app.before_request_funcs.setdefault("audit", []).append(lambda: None)  # a blueprint's own: not the ballot's
    assert Client(app).get("/api/health").status_code == 200
