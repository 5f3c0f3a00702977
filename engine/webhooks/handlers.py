"""The webhooks' command handlers: the admins' (``subscriptions``) and the worker's (``delivery``)."""

from __future__ import annotations

from typing import Any

from engine.identity.actors import Actor
from engine.kernel.bus import handles
from engine.kernel.unit_of_work import UnitOfWork
from engine.webhooks import delivery, secrets_at_rest, subscriptions
from engine.webhooks.commands import (
    ClaimDeliveries, DeleteWebhook, RecordDeliveryAttempt, RegisterWebhook, ReleaseDeliveries, RotateWebhookSecret,
    UpdateWebhook,
)
from engine.webhooks.models import WebhookSubscription


@handles(RegisterWebhook)
def register_webhook(uow: UnitOfWork, actor: Actor, cmd: RegisterWebhook) -> subscriptions.WithSecret:
    return subscriptions.register(uow.session, actor, uow.now, cmd.url, cmd.event_types, cmd.description,
                                  uow.context.secret(secrets_at_rest.PURPOSE))


@handles(UpdateWebhook)
def update_webhook(uow: UnitOfWork, actor: Actor, cmd: UpdateWebhook) -> WebhookSubscription:
    changes = {"url": cmd.url, "event_types": cmd.event_types, "description": cmd.description, "active": cmd.active}
    return subscriptions.change(uow.session, actor, uow.now, cmd.webhook_id, changes)


@handles(RotateWebhookSecret)
def rotate_webhook_secret(uow: UnitOfWork, actor: Actor, cmd: RotateWebhookSecret) -> subscriptions.WithSecret:
    return subscriptions.rotate(uow.session, actor, uow.now, cmd.webhook_id, uow.context.secret(secrets_at_rest.PURPOSE))


@handles(DeleteWebhook)
def delete_webhook(uow: UnitOfWork, actor: Actor, cmd: DeleteWebhook) -> WebhookSubscription:
    return subscriptions.delete(uow.session, actor, uow.now, cmd.webhook_id)


@handles(ClaimDeliveries, needs_actor=False)
def claim_deliveries(uow: UnitOfWork, actor: Any, cmd: ClaimDeliveries) -> delivery.Claim:
    delivery.no_actor(actor)
    return delivery.claim(uow.session, uow.now, cmd.limit, cmd.lease_seconds, uow.context.secret(secrets_at_rest.PURPOSE))


@handles(RecordDeliveryAttempt, needs_actor=False)
def record_delivery_attempt(uow: UnitOfWork, actor: Any, cmd: RecordDeliveryAttempt) -> str | None:
    delivery.no_actor(actor)
    return delivery.record(uow.session, uow.now, cmd)


@handles(ReleaseDeliveries, needs_actor=False)
def release_deliveries(uow: UnitOfWork, actor: Any, cmd: ReleaseDeliveries) -> int:
    delivery.no_actor(actor)
    return delivery.release(uow.session, uow.now, cmd)
