"""Registering, changing and deleting a community's webhooks (its admins only; another community's is not found)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.identity.actors import Actor
from engine.kernel.errors import Conflict, InvalidInput, NotFound
from engine.webhooks import secrets_at_rest, urls
from engine.webhooks.events import EVENT_TYPES
from engine.webhooks.models import WebhookDelivery, WebhookSubscription

ADMIN = "admin"
MAX_WEBHOOKS = 20
"""Webhooks (not deleted) per community: each event is written once per subscription that hears it."""
SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class WithSecret:
    """A webhook and its signing secret, as its registration and a rotation answer (the only times it is shown)."""

    webhook: WebhookSubscription
    secret: str


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def event_types(given: list[str]) -> list[str]:
    """The event types, checked against those the engine records; sorted, each once."""
    if not given:
        raise InvalidInput("name at least one event type", errors=[{"field": "event_types", "message": "at least one"}])
    unknown = sorted({t for t in given if t not in EVENT_TYPES})
    if unknown:
        raise InvalidInput(f"unknown event types: {', '.join(unknown)[:300]}",
                           errors=[{"field": "event_types", "message": f"unknown: {', '.join(unknown)[:300]}"}],
                           known=sorted(EVENT_TYPES))
    return sorted(set(given))


def get(session: Session, actor: Actor, webhook_id: int, *, lock: bool = False) -> WebhookSubscription:
    """The caller's community's webhook (admins only); a deleted one, or another community's, is not found."""
    actor.require(ADMIN)
    query = select(WebhookSubscription).where(WebhookSubscription.id == webhook_id)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None or row.community_id != actor.community_id or row.status == "deleted":
        raise NotFound("webhook not found")
    return row


def register(session: Session, actor: Actor, now: datetime, url: str, types: list[str], description: str,
             key: bytes) -> WithSecret:
    actor.require(ADMIN)
    urls.check(url)
    checked = event_types(types)
    count = session.scalar(select(func.count()).select_from(WebhookSubscription).where(
        WebhookSubscription.community_id == actor.community_id, WebhookSubscription.status != "deleted")) or 0
    if count >= MAX_WEBHOOKS:
        raise Conflict(f"a community has at most {MAX_WEBHOOKS} webhooks; delete one first", limit=MAX_WEBHOOKS)
    secret = new_secret()
    row = WebhookSubscription(community_id=actor.community_id, url=url, event_types=checked, description=description,
                              secret="", status="active", created_by=actor.member_id, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    row.secret = secrets_at_rest.seal(key, row.id, secret)
    return WithSecret(row, secret)


def change(session: Session, actor: Actor, now: datetime, webhook_id: int, changes: dict[str, Any]) -> WebhookSubscription:
    row = get(session, actor, webhook_id, lock=True)
    if changes.get("url") is not None:
        row.url = urls.check(changes["url"])
    if changes.get("event_types") is not None:
        row.event_types = event_types(changes["event_types"])
    if changes.get("description") is not None:
        row.description = changes["description"]
    if changes.get("active") is not None:
        row.status = "active" if changes["active"] else "disabled"
    row.updated_at = now
    return row


def rotate(session: Session, actor: Actor, now: datetime, webhook_id: int, key: bytes) -> WithSecret:
    """A new secret, at once: every delivery sent from now on is signed with it (none with the old one)."""
    row = get(session, actor, webhook_id, lock=True)
    secret = new_secret()
    row.secret, row.secret_rotated_at, row.updated_at = secrets_at_rest.seal(key, row.id, secret), now, now
    return WithSecret(row, secret)


def delete(session: Session, actor: Actor, now: datetime, webhook_id: int) -> WebhookSubscription:
    """Delete it: no more deliveries are written, and those still pending are cancelled (the rows stay, for the record)."""
    row = get(session, actor, webhook_id, lock=True)
    row.status, row.updated_at = "deleted", now
    session.execute(update(WebhookDelivery).where(
        WebhookDelivery.subscription_id == row.id, WebhookDelivery.status == "pending",
    ).values(status="cancelled", claim=None))
    return row
