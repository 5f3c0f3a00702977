"""Liveness and database reachability, and readiness (the schema migrated to this code's head), for load
balancers and orchestrators; needs no token."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.errors import error_response
from api.views import Blueprint, engine, reader
from api.schemas import HealthSchema

log = logging.getLogger(__name__)
blp = Blueprint("health", __name__, url_prefix="/api", description="Service health")


@blp.route("/health")
@blp.response(200, HealthSchema)
@blp.doc(security=[])
def health() -> dict[str, str]:
    session = reader()
    session.execute(text("SELECT 1"))
    return {"status": "ok", "database": engine().db.engine.dialect.name}


@blp.route("/ready")
@blp.response(200, description="Ready: the database answers and its schema is at this code's newest migration.")
@blp.doc(security=[])
def ready() -> Any:
    """Whether this server should get traffic: the database answers and its schema is the one this code expects.

    Not ready is a 503 (the operation's ``default`` response) with the code ``not_ready``: the database
    does not answer, or its schema is behind (or ahead of) this code's migrations. During an upgrade, servers of the new version report 503 until `yishi migrate` has run, and those
    of the old version once it has (their code expects the older schema), so the reverse proxy sends
    each request to a server that matches the schema.
    """
    try:
        current, head = engine().db.revisions()
    except SQLAlchemyError as exc:
        log.warning("not ready: the database does not answer: %s", exc)
        return error_response(503, "not_ready", "the database does not answer")
    if current != head:
        return error_response(503, "not_ready", "the database schema is not at this version's migration head",
                              {"revision": current, "head": head})
    return {"status": "ready", "database": engine().db.engine.dialect.name, "revision": current}
