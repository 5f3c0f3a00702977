"""The webhooks' commands: an admin's (register, change, rotate the secret, delete) and the worker's (claim, record)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RegisterWebhook:
    url: str
    event_types: list[str]
    description: str = ""


@dataclass(frozen=True)
class UpdateWebhook:
    """Change what is given (None: unchanged); ``active`` False disables it, True enables it again."""

    webhook_id: int
    url: str | None = None
    event_types: list[str] | None = None
    description: str | None = None
    active: bool | None = None


@dataclass(frozen=True)
class RotateWebhookSecret:
    webhook_id: int


@dataclass(frozen=True)
class DeleteWebhook:
    webhook_id: int


@dataclass(frozen=True)
class ClaimDeliveries:
    """The worker's: claim up to ``limit`` due deliveries for ``lease_seconds`` (no actor may send it)."""

    limit: int
    lease_seconds: int


@dataclass(frozen=True)
class RecordDeliveryAttempt:
    """The worker's: what one attempt of a claimed delivery got (``status_code`` None: no answer)."""

    delivery_id: str
    claim: str
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class ReleaseDeliveries:
    """The worker's: give back claimed deliveries it did not attempt (it is stopping, or their endpoint just failed)."""

    claim: str
    delivery_ids: list[str] = field(default_factory=list)
    delay_seconds: int = 0
