"""The voting notification source: a vote opened whose electorate holds the caller (themselves or their household),
and its outcome once closed.

It reads the vote and its frozen electorate only, never a ballot: nothing says what anyone chose, nor (in a secret
vote or any other) whether the caller voted.
"""

from __future__ import annotations

from sqlalchemy import Integer, func, literal, null, select
from sqlalchemy.orm import Session

from engine.identity.actors import Actor
from engine.identity.models import Member
from engine.kernel.notifications import Notification, notification_source
from engine.voting.models import ElectorateEntry, Vote
from engine.voting.voter_keys import voter_key_sql


@notification_source("voting")
def votes_for_me(session: Session, actor: Actor, limit: int) -> list[Notification]:
    household = (select(Member.household).where(Member.id == actor.member_id).scalar_subquery()
                 if actor.has("resident") else null())
    key = voter_key_sql(Vote.basis, literal(actor.member_id, Integer), household)
    latest = func.coalesce(Vote.closed_at, Vote.opened_at)
    rows = session.execute(
        select(Vote.id, Vote.instance_id, Vote.title, Vote.opened_at, Vote.closed_at, Vote.status, Vote.result)
        .join(ElectorateEntry, (ElectorateEntry.vote_id == Vote.id) & (ElectorateEntry.voter_key == key))
        .where(Vote.community_id == actor.community_id)
        .order_by(latest.desc(), Vote.id).limit(limit)
    ).all()
    found: list[Notification] = []
    for vote_id, instance_id, title, opened_at, closed_at, status, result in rows:
        found.append(Notification("vote_opened", title, "A vote opened: you may cast a ballot.", opened_at, instance_id,
                                  {"vote_id": vote_id}))
        if status == "closed" and closed_at is not None:
            outcome = (result or {}).get("outcome")
            found.append(Notification("vote_closed", title, f"The vote closed{f': {outcome}' if outcome else ''}.", closed_at,
                                      instance_id, {"vote_id": vote_id, "outcome": outcome}))
    return found
