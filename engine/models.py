"""The database schema: SQLAlchemy 2.0 typed declarative models.

Workflow state lives in ``Instance.state`` (SpiffWorkflow's serialization, minus the spec, which
is stored once per definition version). Everything a list or a permission check needs — open
tasks, due timers — is indexed in rows of its own so those queries never deserialize workflows.
Domain records (opinions, …) are rows too: they are not task data.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no zone; PostgreSQL does)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON(none_as_null=True), list[Any]: JSON(none_as_null=True)}


class Community(Base):
    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    created_at: Mapped[datetime]


class Member(Base):
    """A person acting in one community, with the roles they hold there."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[Any]]
    household: Mapped[str | None] = mapped_column(String(100))
    """The community register's household (a flat, e.g. "3-402"), for one-ballot-per-household votes."""
    area: Mapped[str | None] = mapped_column(String(20))
    """An owner's floor area in m², as a decimal string: the weight in owners' assemblies."""
    created_at: Mapped[datetime]

    community: Mapped[Community] = relationship()


class ApiToken(Base):
    """An API token; only its sha256 is stored, so a database leak reveals no usable token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    member: Mapped[Member] = relationship()


class Definition(Base):
    """One deployed version of a process definition; immutable once written."""

    __tablename__ = "definitions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    spec: Mapped[str] = mapped_column(Text)
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))


class Instance(Base):
    """A running (or finished) process instance; ``version`` guards against lost updates."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(Text)
    state_digest: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    error: Mapped[dict[str, Any] | None]
    last_seq: Mapped[int]
    started_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    definition: Mapped[Definition] = relationship()
    tasks: Mapped[list[HumanTask]] = relationship(cascade="all, delete-orphan", order_by="HumanTask.opened_seq")
    timers: Mapped[list[Timer]] = relationship(cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}


class HumanTask(Base):
    """A user task's life in an instance: ready (or failed), then completed or closed.

    Rewritten by every command from the workflow itself, so task lists and permission checks
    never deserialize workflows; kept after completion, so a retried request can be told that
    the task is no longer ready rather than that it never existed.
    """

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_community_state_lane", "community_id", "state", "lane"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))
    form: Mapped[str | None] = mapped_column(String(255))
    properties: Mapped[dict[str, Any]]
    instructions: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    opened_seq: Mapped[int]
    closed_seq: Mapped[int | None]
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    closed_at: Mapped[datetime | None]


class Timer(Base):
    """A pending timer event of an instance, with the moment it falls due."""

    __tablename__ = "timers"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(index=True)


class Event(Base):
    """One applied command in an instance's history: what, who, when, with what, and the result."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("instance_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"))
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(String(50))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    at: Mapped[datetime]
    input: Mapped[dict[str, Any]]
    state_digest: Mapped[str] = mapped_column(String(64))
    error: Mapped[dict[str, Any] | None]
    services: Mapped[list[Any] | None]
    """Service task calls made while applying the command, with their results (fed back on replay)."""

    instance: Mapped[Instance] = relationship()


class Opinion(Base):
    """A resident's opinion in a consultation, and the committee's answer to it."""

    __tablename__ = "opinions"
    __table_args__ = (Index("ix_opinions_instance_author", "instance_id", "author_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    answer_verdict: Mapped[str | None] = mapped_column(String(20))
    answer_reason: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    answered_at: Mapped[datetime | None]

    author: Mapped[Member] = relationship(foreign_keys=[author_id])


class Vote(Base):
    """One vote run by a vote process instance: its configuration, frozen electorate size and result."""

    __tablename__ = "votes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(20))
    options: Mapped[list[Any]]
    rule: Mapped[dict[str, Any]]
    secret: Mapped[bool]
    basis: Mapped[str] = mapped_column(String(20))
    weighted: Mapped[bool]
    close_when_all_voted: Mapped[bool]
    deadline: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10))
    eligible_heads: Mapped[int]
    eligible_weight: Mapped[str] = mapped_column(String(40))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]
    board_root: Mapped[str | None] = mapped_column(String(64))


class ElectorateEntry(Base):
    """A voter (a member, or a household) in a vote's electorate, frozen when the vote opens."""

    __tablename__ = "electorate"

    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    voter_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    weight: Mapped[str] = mapped_column(String(40))


class Participation(Base):
    """Who has voted, and how: kept apart from the ballots so that a secret ballot names nobody.

    The primary key makes a second ballot for the same voter (or household) impossible, whatever
    the channel and however concurrent the requests. ``idempotency_hash`` and ``sealed_receipt``
    let a retried request get its receipt back: the receipt is sealed with a pad derived from the
    client's idempotency key, which is stored only as a hash.
    """

    __tablename__ = "participations"
    __table_args__ = (UniqueConstraint("vote_id", "idempotency_hash"),)

    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    voter_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    channel: Mapped[str] = mapped_column(String(10))
    teller_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    cast_at: Mapped[datetime]
    changes: Mapped[int]
    idempotency_hash: Mapped[str | None] = mapped_column(String(64))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    sealed_receipt: Mapped[str | None] = mapped_column(String(128))


class Ballot(Base):
    """A counted ballot: its choice, its weight and its receipt's fingerprint.

    No time, no sequence and, in a secret vote, no voter: the id is random, and SQLite keeps the
    table without a rowid, so neither the row's id nor its place reveals when it was cast.
    """

    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("vote_id", "fingerprint"), {"sqlite_with_rowid": False})

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    choice: Mapped[Any] = mapped_column(JSON)
    weight: Mapped[str] = mapped_column(String(40))
    voter_key: Mapped[str | None] = mapped_column(String(120))
    """Only in public votes, where who voted what is visible to the community."""
