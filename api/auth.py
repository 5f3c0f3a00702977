"""Bearer-token authentication: every endpoint needs a token except health and readiness, the metrics, the audit key
and the API documents."""

from __future__ import annotations

from flask import current_app, g, request

from engine.kernel.errors import Unauthenticated
from engine.identity.actors import Actor, authenticate

PUBLIC_ENDPOINTS = {"health.health", "health.ready", "metrics", "audit.public_key", "api-docs.openapi_json", "api-docs.openapi_swagger_ui"}
WEB_PAGES = "site"
"""The web pages and their static files (``web.site`` and the areas nested in it): a page that needs a member
checks the session cookie itself."""


def load_actor() -> None:
    """Authenticate before each request (a ``before_request`` hook), so no endpoint can forget to."""
    if request.endpoint in PUBLIC_ENDPOINTS or WEB_PAGES in request.blueprints or request.endpoint is None or request.method == "OPTIONS":
        return
    token = bearer_token(request.headers.get("Authorization", ""))
    if token is None:
        raise Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
    with current_app.extensions["yishi"].db.autocommit() as connection:
        g.actor = authenticate(connection, token)


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def actor() -> Actor:
    return g.actor
