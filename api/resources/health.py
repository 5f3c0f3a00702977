"""Liveness and database reachability, for load balancers; needs no token."""

from __future__ import annotations

from sqlalchemy import text

from api.resources import Blueprint, engine, reader
from api.schemas import HealthSchema

blp = Blueprint("health", __name__, url_prefix="/api", description="Service health")


@blp.route("/health")
@blp.response(200, HealthSchema)
@blp.doc(security=[])
def health() -> dict[str, str]:
    session = reader()
    session.execute(text("SELECT 1"))
    return {"status": "ok", "database": engine().db.engine.dialect.name}
