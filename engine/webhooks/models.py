"""The webhooks' tables: subscriptions, the outbox of deliveries, and each delivery's attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.kernel.models import Base


class WebhookSubscription(Base):
    """An endpoint of one community's integrator, the event types it hears, and the secret deliveries are signed with.

    ``status``: ``active`` (deliveries are written and sent), ``disabled`` (none are written; those already written wait),
    ``deleted`` (hidden; its pending deliveries are cancelled). The secret is kept to sign with (HMAC needs it), sealed
    under a key derived from the audit key (``secrets_at_rest``), and is never shown again after it is created or
    rotated."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[Any]]
    description: Mapped[str] = mapped_column(String(200), default="")
    secret: Mapped[str] = mapped_column(String(200))
    """Sealed under a key derived from the audit key (``secrets_at_rest``): the database alone cannot sign."""
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    secret_rotated_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """The outbox: one row per (subscription, event), written in the command that recorded the event.

    ``id`` is the delivery id (a UUID) every attempt sends (``Yishi-Delivery``), so a receiver can drop a repeat.
    ``body`` is the exact JSON posted, the same at every attempt. ``status``: ``pending`` (to send at
    ``next_attempt_at``), ``delivered`` (a 2xx answer), ``failed`` (``MAX_ATTEMPTS`` failed), ``cancelled`` (its
    subscription was deleted). While a worker sends it, ``claim`` names that worker's claim and ``next_attempt_at``
    is when the claim lapses (a worker that died mid-way: another sends it then)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    instance_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int]
    event_type: Mapped[str] = mapped_column(String(50))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claim: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_duration_ms: Mapped[int | None]
    delivered_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One attempt to deliver: when, the HTTP status (None: no answer), the error, how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    number: Mapped[int]
    at: Mapped[datetime]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int]
