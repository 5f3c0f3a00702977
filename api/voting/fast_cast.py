"""The busiest requests, ballots, served beside Flask instead of through it.

``POST /api/votes/<vote_id>/ballots`` (and ``…/encrypted-ballots``, an encrypted vote's) is what thousands of
voters send within minutes. Flask's
request context, routing, flask-smorest's argument parsing and response dumping cost as much CPU
as the ballot's own transaction, so a well-formed cast is answered here, as a WSGI middleware in
front of the Flask app: the same bearer-token check, the same schemas (built once), the same
command, the same JSON and the same error responses (rendered by ``api.errors``, an unknown
token's 401 included). It casts through ``Engine.execute_together``: ballots that this worker's threads cast
at the same moment share one transaction (group commit), and any ballot the batch leaves aside is
cast alone through ``Engine.execute_as``, which checks the token in the ballot's own transaction. Anything else — another route or method, no token, a body that is not a JSON object the
schemas accept — goes to Flask untouched, before anything is written, so every refusal keeps its
one shape and status. The route stays in Flask (``api.voting.routes``), and both cast through ``api.voting.ballots.cast``;
the routes are found through Flask's own ``url_map``, so their URLs are written once. Flask's route documents it
in the OpenAPI description and serves whatever this path passes on.

Flask's request hooks do not run here, so this path does what each of them does (``STANDS_IN_FOR``): it
counts the request as ``api.metrics`` does, checks the token as ``api.auth`` does (in the command) and bounds
the path's id as ``api.limits`` does. An app with any other hook on this route refuses to start, so a new
middleware cannot silently miss the busiest endpoint.
"""

from __future__ import annotations

import io
import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from marshmallow import Schema
from werkzeug.exceptions import HTTPException

from api import metrics
from api.auth import bearer_token, load_actor
from api.errors import error_for
from api.limits import check_path_values, unstorable
from api.voting import ballots, routes
from api.voting.schemas import CastSchema, EncryptedBallotSchema, IdempotencyHeader, ReceiptSchema, TrackerSchema

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
CAST_ENDPOINT = f"{routes.blp.name}.{routes.cast.__name__}"
ENCRYPTED_ENDPOINT = f"{routes.blp.name}.{routes.cast_encrypted.__name__}"
"""The Flask routes this path serves, matched through the app's own ``url_map``."""
VOTE_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
"""The ids the engine issues (UUIDs); a path naming anything else is Flask's to answer."""
JSON_TYPES = {"application/json", "application/json; charset=utf-8"}



@dataclass(frozen=True)
class Route:
    """What a route's ballot is made of (its schemas, built once) and how it is cast."""

    body: Schema
    header: Schema | None
    """The ``Idempotency-Key`` header's, for the routes that take it."""
    cast: Callable[..., Any]
    answer: Schema


ROUTES = {
    CAST_ENDPOINT: Route(CastSchema(), IdempotencyHeader(), ballots.cast, ReceiptSchema()),
    ENCRYPTED_ENDPOINT: Route(EncryptedBallotSchema(), None, ballots.cast_encrypted, TrackerSchema()),
}
STANDS_IN_FOR = {metrics.began, metrics.answered, load_actor, check_path_values}
"""The request hooks whose work this path does itself (see the module's docstring)."""


class FastCast:
    """Wraps ``app.wsgi_app``: casts well-formed ballots itself, passes everything else on."""

    def __init__(self, app: Flask, wsgi_app: WSGIApp) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.max_body = app.config.get("MAX_CONTENT_LENGTH") or sys.maxsize
        self.checked = False
        self.metrics = {rule.endpoint: metrics.requests(rule.rule, "POST") for rule in app.url_map.iter_rules()
                        if rule.endpoint in ROUTES}
        """Counted as Flask counts each route's requests (``api.metrics``), under the same endpoint label."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not self.checked:  # at the first request, when Flask no longer lets anyone add a hook
            self._check_hooks()
        request = self._cast_request(environ)
        if request is None:
            return self.wsgi_app(environ, start_response)
        endpoint, vote_id, token, args = request
        route, counted = ROUTES[endpoint], self.metrics[endpoint]
        engine = self.app.extensions["yishi"]
        began = time.perf_counter()
        try:
            answer = route.cast(engine, token, vote_id, args)
            body = (self.app.json.dumps(route.answer.dump(answer), separators=(",", ":")) + "\n").encode()
        except Exception as exc:  # noqa: BLE001 — rendered exactly as the Flask route renders it, 500 included
            with self.app.request_context(environ):  # the refusal speaks the caller's language, as Flask's does
                response = error_for(exc)
                counted.observe(response.status_code, time.perf_counter() - began)
                return response(environ, start_response)
        counted.observe(201, time.perf_counter() - began)
        start_response("201 CREATED", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _check_hooks(self) -> None:
        skipped = _hooks(self.app, (None, routes.blp.name)) - STANDS_IN_FOR
        if skipped:
            raise RuntimeError(f"the ballot's fast path would skip the request hooks {sorted(map(_name, skipped))}: "
                               "make api.voting.fast_cast do what they do and list them in STANDS_IN_FOR")
        self.checked = True

    def _cast_request(self, environ: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]] | None:
        """(endpoint, vote id, token, arguments) of a well-formed cast; None for anything Flask must answer."""
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("CONTENT_TYPE", "").lower() not in JSON_TYPES:
            return None
        found = self._vote_of(environ)
        token = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
        length = environ.get("CONTENT_LENGTH", "")
        if found is None or token is None or not length.isdigit() or not 0 < int(length) <= self.max_body:
            return None
        endpoint, vote_id = found
        route = ROUTES[endpoint]
        raw = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(raw)  # read once; Flask reads it again if it gets the request
        try:
            args = route.body.load(json.loads(raw))
            if route.header is not None:
                args |= route.header.load(_idempotency_header(environ))
        except Exception:  # noqa: BLE001 — invalid JSON, a schema error, anything: Flask answers it
            return None
        if unstorable(args) is not None:  # Flask refuses it, naming the field
            return None
        return endpoint, vote_id, token, args

    def _vote_of(self, environ: dict[str, Any]) -> tuple[str, str] | None:
        """The endpoint and vote a request to a cast route names, as Flask's routing matches them; None for any
        other route."""
        try:
            endpoint, values = self.app.url_map.bind_to_environ(environ).match(method="POST")
        except HTTPException:  # no route, another method, a redirect: Flask answers it
            return None
        vote_id = values.get("vote_id")
        return (endpoint, vote_id) if endpoint in ROUTES and VOTE_ID.fullmatch(vote_id or "") else None


def install(app: Flask) -> None:
    """Serve well-formed ballots beside Flask, in front of the app's WSGI callable."""
    app.wsgi_app = FastCast(app, app.wsgi_app)  # type: ignore[method-assign]


def _idempotency_header(environ: dict[str, Any]) -> dict[str, str]:
    key = environ.get("HTTP_IDEMPOTENCY_KEY")
    return {} if key is None else {"Idempotency-Key": key}



def _hooks(app: Flask, scopes: tuple[str | None, ...]) -> set[Any]:
    """Every request hook Flask runs for a request to a route of these blueprints (None: the app's own)."""
    registries = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs,
                  app.url_value_preprocessors, app.url_default_functions)
    return {hook for registry in registries for scope in scopes for hook in registry.get(scope, ())}


def _name(hook: Any) -> str:
    return f"{hook.__module__}.{hook.__qualname__}"
