"""Reading a community's webhooks and their deliveries (admins only; another community's is not found)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.identity.actors import Actor
from engine.kernel.queries import Page, paginate
from engine.webhooks import subscriptions
from engine.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")


def webhooks(session: Session, actor: Actor, page: int, page_size: int) -> Page[WebhookSubscription]:
    actor.require(subscriptions.ADMIN)
    query = (select(WebhookSubscription)
             .where(WebhookSubscription.community_id == actor.community_id, WebhookSubscription.status != "deleted")
             .order_by(WebhookSubscription.id))
    return paginate(session, query, page, page_size)


def webhook(session: Session, actor: Actor, webhook_id: int) -> WebhookSubscription:
    return subscriptions.get(session, actor, webhook_id)


def deliveries(session: Session, actor: Actor, webhook_id: int, page: int, page_size: int,
               status: str | None = None) -> Page[WebhookDelivery]:
    """A webhook's deliveries, newest first (then by the event's place in its history)."""
    found = subscriptions.get(session, actor, webhook_id)
    query = (select(WebhookDelivery).where(WebhookDelivery.subscription_id == found.id)
             .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.instance_id, WebhookDelivery.seq.desc()))
    if status:
        query = query.where(WebhookDelivery.status == status)
    return paginate(session, query, page, page_size)


def attempts(session: Session, delivery_id: str) -> list[WebhookAttempt]:
    return list(session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
                                .order_by(WebhookAttempt.number)))
