"""A community's webhooks (its admins): register, list, change, rotate the secret, delete; their deliveries."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from api.auth import actor
from api.schemas import PageQuery, page_of
from api.views import Blueprint, engine, reader
from api.webhooks.schemas import (
    DeliveryQuery, DeliverySchema, DeliveryWithAttemptsSchema, EventTypesSchema, NewWebhookSchema, WebhookChangeSchema,
    WebhookSchema, WebhookWithSecretSchema,
)
from engine.kernel.errors import NotFound
from engine.webhooks import queries
from engine.webhooks.commands import DeleteWebhook, RegisterWebhook, RotateWebhookSecret, UpdateWebhook
from engine.webhooks.events import EVENT_TYPES
from engine.webhooks.models import WebhookDelivery

blp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks",
                description="Webhooks: a community's events posted, signed, to its integrators' endpoints (admins)")


def _with_secret(result: Any) -> SimpleNamespace:
    return SimpleNamespace(**{name: getattr(result.webhook, name) for name in WebhookSchema().fields}, secret=result.secret)


@blp.route("", methods=["POST"])
@blp.arguments(NewWebhookSchema)
@blp.response(201, WebhookWithSecretSchema)
def register(args: dict[str, Any]) -> Any:
    """Register an endpoint for some event types; the answer shows its signing secret, this once."""
    return _with_secret(engine().execute(RegisterWebhook(args["url"], args["event_types"], args["description"]), actor()))


@blp.route("")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(WebhookSchema, "WebhookPage"))
def list_webhooks(args: dict[str, Any]) -> Any:
    """The community's webhooks (not the deleted ones), oldest first; no secret."""
    return queries.webhooks(reader(), actor(), args["page"], args["page_size"])


@blp.route("/event-types")
@blp.response(200, EventTypesSchema)
def event_types() -> Any:
    """The event types a webhook may hear."""
    actor()
    return {"event_types": sorted(EVENT_TYPES)}


@blp.route("/<int:webhook_id>")
@blp.response(200, WebhookSchema)
def get_webhook(webhook_id: int) -> Any:
    return queries.webhook(reader(), actor(), webhook_id)


@blp.route("/<int:webhook_id>", methods=["PATCH"])
@blp.arguments(WebhookChangeSchema)
@blp.response(200, WebhookSchema)
def change(args: dict[str, Any], webhook_id: int) -> Any:
    """Change its URL, event types or description, or disable (``active: false``) or enable it."""
    return engine().execute(UpdateWebhook(webhook_id, args.get("url"), args.get("event_types"), args.get("description"),
                                          args.get("active")), actor())


@blp.route("/<int:webhook_id>", methods=["DELETE"])
@blp.response(200, WebhookSchema)
def delete(webhook_id: int) -> Any:
    """Delete it: nothing more is written for it, and its pending deliveries are cancelled."""
    return engine().execute(DeleteWebhook(webhook_id), actor())


@blp.route("/<int:webhook_id>/secret", methods=["POST"])
@blp.response(200, WebhookWithSecretSchema)
def rotate_secret(webhook_id: int) -> Any:
    """A new signing secret, shown this once; from now on every delivery is signed with it, none with the old one."""
    return _with_secret(engine().execute(RotateWebhookSecret(webhook_id), actor()))


@blp.route("/<int:webhook_id>/deliveries")
@blp.arguments(DeliveryQuery, location="query")
@blp.response(200, page_of(DeliverySchema, "WebhookDeliveryPage"))
def deliveries(args: dict[str, Any], webhook_id: int) -> Any:
    """Its deliveries, newest first: status, attempts, the last answer or error, when it is tried next."""
    return queries.deliveries(reader(), actor(), webhook_id, args["page"], args["page_size"], args.get("status"))


@blp.route("/<int:webhook_id>/deliveries/<delivery_id>")
@blp.response(200, DeliveryWithAttemptsSchema)
def delivery(webhook_id: int, delivery_id: str) -> Any:
    """One delivery, with the body it posts and every attempt (status, error, duration)."""
    session = reader()
    webhook = queries.webhook(session, actor(), webhook_id)
    found = session.get(WebhookDelivery, delivery_id) if len(delivery_id) <= 36 else None
    if found is None or found.subscription_id != webhook.id:
        raise NotFound("delivery not found")
    return SimpleNamespace(**{name: getattr(found, name) for name in DeliverySchema().fields}, body=found.body,
                           attempt_log=queries.attempts(session, found.id))
