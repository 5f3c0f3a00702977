"""Sending the outbox (``yishi worker``): claim due deliveries, POST each signed, record each attempt.

A round (``deliver_due``) claims up to ``limit`` due deliveries in one short transaction (``ClaimDeliveries``): on
PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED``, so workers sweeping together each take different rows and never wait
for one another; on SQLite units of work take turns anyway. A claim is a token and a lease: the rows are due again
only when the lease lapses (``next_attempt_at``), so a worker that dies mid-way delays its deliveries, it loses none.
Each row is then posted outside any transaction, and the attempt recorded in a transaction of its own
(``RecordDeliveryAttempt``), which writes only if the claim is still the worker's. A 2xx answer delivers it; anything
else (another status, a timeout, a refused address, a redirect — never followed) is retried after 30 s, doubling up to
an hour, and after ``MAX_ATTEMPTS`` the delivery is ``failed``. When an endpoint fails, the round gives back the rest of
its deliveries unattempted (``ReleaseDeliveries``), so one dead endpoint does not hold the worker for a timeout each.

The HTTP client is the standard library's ``http.client``: no dependency to add, and it lets the connection go to the
very address that was checked (``_pinned``: a name is resolved once, every address must be public, then the socket
connects to it, with TLS verified against the name), which a higher-level client (urllib's opener, requests) does not
without patching its internals. A delivery is one POST without redirects, so nothing more is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import logging
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.kernel.errors import PermissionDenied
from engine.webhooks import secrets_at_rest, urls
from engine.webhooks.commands import ClaimDeliveries, RecordDeliveryAttempt, ReleaseDeliveries
from engine.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 10
FIRST_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 3600
TIMEOUT_SECONDS = 5.0
"""Seconds to connect, and to wait for each read of the answer."""
USER_AGENT = "Yishi-Webhooks/1"


def backoff(attempts: int) -> int:
    """Seconds before the next attempt after ``attempts`` failed ones: 30, 60, 120, … at most an hour."""
    return int(min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** max(0, attempts - 1)))


def signature(secret: str, timestamp: str, body: str) -> str:
    """``Yishi-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed by the secret, of ``"<timestamp>.<body>"``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.{body}".encode("utf-8"), hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class Claimed:
    id: str
    subscription_id: int
    url: str
    secret: str | None
    """None when the stored secret does not open under this deployment's audit key: the delivery is not sent."""
    event_type: str
    body: str
    attempt: int


@dataclass(frozen=True)
class Claim:
    token: str
    deliveries: list[Claimed]


def claim(session: Session, now: datetime, limit: int, lease_seconds: int, key: bytes) -> Claim:
    """Claim up to ``limit`` due deliveries of active webhooks, oldest first, until ``now + lease_seconds``, each with its
    webhook's secret unsealed (``secrets_at_rest``; None where it does not open, and then nothing is sent)."""
    token = str(uuid.uuid4())
    rows = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.subscription_id, WebhookDelivery.event_type, WebhookDelivery.body,
               WebhookDelivery.attempts, WebhookSubscription.url, WebhookSubscription.secret)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
               WebhookSubscription.status == "active")
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at, WebhookDelivery.seq)
        .limit(limit)
        .with_for_update(of=WebhookDelivery.__table__, skip_locked=True)
    ).all()
    if not rows:
        return Claim(token, [])
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_([r.id for r in rows])).values(
        claim=token, next_attempt_at=now + timedelta(seconds=lease_seconds)))
    return Claim(token, [Claimed(r.id, r.subscription_id, r.url,
                                 secrets_at_rest.unseal(key, r.subscription_id, r.secret), r.event_type, r.body,
                                 r.attempts + 1) for r in rows])


def record(session: Session, now: datetime, cmd: RecordDeliveryAttempt) -> str | None:
    """Write one attempt's outcome if the claim still holds the delivery: its new status (None: the claim lapsed)."""
    row = session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == cmd.delivery_id).with_for_update())
    if row is None or row.claim != cmd.claim or row.status != "pending":
        return None
    row.attempts += 1
    row.claim = None
    row.last_attempt_at, row.last_status_code, row.last_error, row.last_duration_ms = (
        now, cmd.status_code, (cmd.error or None) and cmd.error[:500], cmd.duration_ms)
    delivered = cmd.status_code is not None and 200 <= cmd.status_code < 300
    if delivered:
        row.status, row.delivered_at = "delivered", now
    elif row.attempts >= MAX_ATTEMPTS:
        row.status = "failed"
    else:
        row.next_attempt_at = now + timedelta(seconds=backoff(row.attempts))
    session.add(WebhookAttempt(delivery_id=row.id, number=row.attempts, at=now, status_code=cmd.status_code,
                               error=row.last_error, duration_ms=cmd.duration_ms))
    return row.status


def release(session: Session, now: datetime, cmd: ReleaseDeliveries) -> int:
    """Give back claimed deliveries unattempted: due again after ``delay_seconds``. How many were still claimed."""
    if not cmd.delivery_ids:
        return 0
    result = session.execute(update(WebhookDelivery).where(
        WebhookDelivery.id.in_(cmd.delivery_ids), WebhookDelivery.claim == cmd.claim,
        WebhookDelivery.status == "pending",
    ).values(claim=None, next_attempt_at=now + timedelta(seconds=cmd.delay_seconds)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def no_actor(actor: Any) -> None:
    """The worker's commands are the worker's: no member's request may send them."""
    if actor is not None:
        raise PermissionDenied("only the worker sends deliveries")


# --- HTTP ------------------------------------------------------------------------------------------------------------

class Refused(Exception):
    """The endpoint's address is not one a webhook may reach."""


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(delivery: Claimed, timeout: float = TIMEOUT_SECONDS) -> Answer:
    """POST one delivery, signed; never raises: the answer's status, or the error that stood in for one."""
    if delivery.secret is None:
        return Answer(None, "not sent: the webhook's secret does not open with this deployment's audit key", 0)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
        "Yishi-Delivery": delivery.id, "Yishi-Event": delivery.event_type, "Yishi-Timestamp": timestamp,
        "Yishi-Signature": signature(delivery.secret, timestamp, delivery.body),
    }
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        status = _send(delivery.url, headers, delivery.body.encode("utf-8"), timeout)
        if not 200 <= status < 300:
            error = f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    except Refused as exc:
        error = f"refused: {exc}"
    except (OSError, http.client.HTTPException, ValueError) as exc:  # timeouts, resets, TLS, DNS, malformed answers
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()[:500]
    return Answer(status, error, int((time.monotonic() - started) * 1000))


def _send(url: str, headers: dict[str, str], body: bytes, timeout: float) -> int:
    parts = urlsplit(url)
    if urls.refusal(url) is not None:  # the rules may have changed since it was registered
        raise Refused(urls.refusal(url) or "")
    https = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if https else 80)
    address = _checked_address(host, port)
    connection = _pinned(https, host, port, address, timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers=headers)
        answer = connection.getresponse()
        answer.read(65536)
        return answer.status
    finally:
        connection.close()


def _checked_address(host: str, port: int) -> str:
    """The address to connect to: the first the name resolves to, once every one of them is public."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [str(info[4][0]) for info in found]
    if not addresses:
        raise Refused(f"{host} resolves to no address")
    if not urls.allow_private():
        for address in addresses:
            if not urls.public(ipaddress.ip_address(address.split("%")[0])):
                raise Refused(f"{host} resolves to a non-public address")
    return addresses[0]


def _pinned(https: bool, host: str, port: int, address: str, timeout: float) -> http.client.HTTPConnection:
    """A connection to ``address`` that says ``host`` (Host header, TLS server name and certificate check)."""
    if https:
        class PinnedHTTPS(http.client.HTTPSConnection):
            def connect(self) -> None:
                sock = socket.create_connection((address, port), timeout)
                self.sock = self._context.wrap_socket(sock, server_hostname=host)  # type: ignore[attr-defined]

        return PinnedHTTPS(host, port, timeout=timeout, context=ssl.create_default_context())

    class PinnedHTTP(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.create_connection((address, port), timeout)

    return PinnedHTTP(host, port, timeout=timeout)


# --- the worker's round ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Round:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed


def deliver_due(engine: Any, stop: threading.Event | None = None, *, limit: int = 50,
                timeout: float = TIMEOUT_SECONDS) -> Round:
    """One round: claim up to ``limit`` due deliveries, post each, record each attempt. Once ``stop`` is set, or when
    an endpoint fails, the deliveries left (all of it, or that endpoint's) are given back unattempted."""
    lease = int(60 + 2 * limit * (timeout + 1))
    claimed: Claim = engine.execute(ClaimDeliveries(limit, lease))
    counts = {"delivered": 0, "pending": 0, "failed": 0}
    failing: set[int] = set()
    left: list[str] = []
    for delivery in claimed.deliveries:
        if (stop is not None and stop.is_set()) or delivery.subscription_id in failing:
            left.append(delivery.id)
            continue
        answer = post(delivery, timeout)
        log.info("webhook delivery %s (%s, attempt %d) to subscription %d: %s in %d ms", delivery.id,
                 delivery.event_type, delivery.attempt, delivery.subscription_id,
                 answer.status_code if answer.error is None else answer.error, answer.duration_ms)
        status = engine.execute(RecordDeliveryAttempt(delivery.id, claimed.token, answer.status_code, answer.error,
                                                      answer.duration_ms))
        if status is not None:
            counts[status] = counts.get(status, 0) + 1
        if not answer.ok:
            failing.add(delivery.subscription_id)
    released = engine.execute(ReleaseDeliveries(claimed.token, left, 0)) if left else 0
    return Round(counts["delivered"], counts["pending"], counts["failed"], released)
