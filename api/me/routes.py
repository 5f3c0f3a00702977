"""The caller's own agenda and notifications (``engine.kernel.agenda``, ``engine.kernel.notifications``)."""

from __future__ import annotations

from typing import Any

from api.auth import actor
from api.me.schemas import AgendaSchema
from api.views import Blueprint, engine, reader
from engine.kernel.agenda import agenda

blp = Blueprint("me", __name__, url_prefix="/api/me", description="The caller's agenda and notifications")


@blp.route("/agenda")
@blp.response(200, AgendaSchema)
def get_agenda() -> dict[str, Any]:
    """What needs the caller now, from every domain: ballots to cast, opinion and amendment periods, ratings, tasks."""
    now = engine().clock.now()
    return {"at": now, "items": agenda(reader(), actor(), now)}
