"""Writing the outbox: a delivery for each (subscription, event), in the transaction that records the event.

``enqueue`` is a ledger listener (``engine.audit.sealing.ledger.on_sealed``): once a unit of work's events are chained
and inserted, it reads in one query the active webhooks of the events' communities, and for each event a webhook hears
inserts a delivery row with its body. So a delivery exists exactly when its event does: a command that fails or is
refused writes neither. A unit that records no event (reads, claims) costs nothing; one that does costs that one
query, and one insert when some webhook hears its events.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from engine.audit.sealing.ledger import on_sealed
from engine.identity.models import Community
from engine.kernel.models import Definition, Instance
from engine.webhooks.events import summary
from engine.webhooks.models import WebhookDelivery, WebhookSubscription

PAYLOAD_VERSION = 1

_HEARING = (
    select(WebhookSubscription.id, WebhookSubscription.event_types, Instance.id.label("instance_id"),
           Instance.community_id, Instance.status, Definition.key, Community.slug)
    .join(Instance, Instance.community_id == WebhookSubscription.community_id)
    .join(Definition, Definition.id == Instance.definition_id)
    .join(Community, Community.id == Instance.community_id)
    .where(Instance.id.in_(bindparam("instance_ids", expanding=True)), WebhookSubscription.status == "active")
    .order_by(WebhookSubscription.id)
)
"""The active webhooks of the communities of some instances, with what a body says of each instance (built once)."""
_INSERT = insert(WebhookDelivery.__table__)


def moment(at: datetime) -> str:
    """An instant as the bodies write it: ISO 8601 in UTC, with a Z."""
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def body(delivery_id: str, event: dict[str, Any], hearing: Any) -> str:
    """The JSON a delivery posts (sorted keys, no spaces, UTF-8): the same bytes at every attempt."""
    return json.dumps({
        "version": PAYLOAD_VERSION,
        "delivery_id": delivery_id,
        "type": event["type"],
        "at": moment(event["at"]),
        "community": {"id": hearing.community_id, "slug": hearing.slug},
        "instance": {"id": event["instance_id"], "definition_key": hearing.key, "status": hearing.status},
        "event": {"instance_id": event["instance_id"], "seq": event["seq"], "hash": event["hash"]},
        "summary": summary(event["type"], event["input"] or {}, event.get("services"), event.get("error")),
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@on_sealed
def enqueue(session: Session, events: list[dict[str, Any]]) -> None:
    """A delivery row for every (active webhook, event of a type it hears), in the command's transaction."""
    connection = session.connection()
    hearing = connection.execute(_HEARING, {"instance_ids": sorted({e["instance_id"] for e in events})}).all()
    if not hearing:
        return
    rows = []
    for event in events:
        for webhook in hearing:
            if webhook.instance_id != event["instance_id"] or event["type"] not in webhook.event_types:
                continue
            delivery_id = str(uuid.uuid4())
            rows.append({
                "id": delivery_id, "subscription_id": webhook.id, "community_id": webhook.community_id,
                "instance_id": event["instance_id"], "seq": event["seq"], "event_type": event["type"],
                "body": body(delivery_id, event, webhook), "status": "pending", "attempts": 0,
                "next_attempt_at": event["at"], "created_at": event["at"],
            })
    if rows:
        connection.execute(_INSERT, rows)
