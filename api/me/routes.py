"""The caller's own agenda and notifications (``engine.kernel.agenda``, ``engine.kernel.notifications``)."""

from __future__ import annotations

from typing import Any

from api.auth import actor
from api.me.schemas import AgendaSchema, MarkReadSchema, NotificationPageSchema, UnreadSchema
from api.schemas import PageQuery
from api.views import Blueprint, engine, reader
from engine.kernel import notifications
from engine.kernel.agenda import agenda
from engine.kernel.commands import MarkNotificationsRead

blp = Blueprint("me", __name__, url_prefix="/api/me", description="The caller's agenda and notifications")


@blp.route("/agenda")
@blp.response(200, AgendaSchema)
def get_agenda() -> dict[str, Any]:
    """What needs the caller now, from every domain: ballots to cast, opinion and amendment periods, ratings, tasks."""
    now = engine().clock.now()
    return {"at": now, "items": agenda(reader(), actor(), now)}


@blp.route("/notifications")
@blp.arguments(PageQuery, location="query")
@blp.response(200, NotificationPageSchema)
def list_notifications(args: dict[str, Any]) -> Any:
    """The caller's notifications, newest first, each saying whether it is unread; with the unread count."""
    return notifications.notifications(reader(), actor(), args["page"], args["page_size"])


@blp.route("/notifications/unread")
@blp.response(200, UnreadSchema)
def unread_notifications() -> dict[str, Any]:
    """How many of the caller's notifications are unread, and up to when they have read."""
    session = reader()
    return {"unread": notifications.unread_count(session, actor()), "read_until": notifications.read_until(session, actor())}


@blp.route("/notifications/read", methods=["POST"])
@blp.arguments(MarkReadSchema)
@blp.response(200, UnreadSchema)
def mark_notifications_read(args: dict[str, Any]) -> dict[str, Any]:
    """Mark the caller's notifications read, up to ``until`` (or now); the marker never moves back."""
    marker = engine().execute(MarkNotificationsRead(args["until"]), actor())
    return {"unread": notifications.unread_count(reader(), actor()), "read_until": marker}
