"""The voting agenda source: open votes whose electorate holds the caller (themselves or their household) and no ballot yet."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, literal, null, select
from sqlalchemy.orm import Session

from engine.identity.actors import Actor
from engine.identity.models import Member
from engine.kernel.agenda import AgendaItem, agenda_source
from engine.voting.models import ElectorateEntry, Participation, Vote
from engine.voting.voter_keys import voter_key_sql


@agenda_source("voting")
def open_ballots(session: Session, actor: Actor, now: datetime) -> list[AgendaItem]:
    # As voter_keys.voter_key: a caller votes for their household only when they are a resident.
    household = (select(Member.household).where(Member.id == actor.member_id).scalar_subquery()
                 if actor.has("resident") else null())
    key = voter_key_sql(Vote.basis, literal(actor.member_id, Integer), household)
    rows = session.execute(
        select(Vote.id, Vote.instance_id, Vote.title, Vote.deadline)
        .join(ElectorateEntry, (ElectorateEntry.vote_id == Vote.id) & (ElectorateEntry.voter_key == key))
        .outerjoin(Participation, (Participation.vote_id == Vote.id) & (Participation.voter_key == ElectorateEntry.voter_key))
        .where(Vote.community_id == actor.community_id, Vote.status == "open", Vote.deadline > now,
               Participation.vote_id.is_(None))
    ).all()
    return [AgendaItem("cast_ballot", title, deadline, instance_id, {"vote_id": vote_id})
            for vote_id, instance_id, title, deadline in rows]
