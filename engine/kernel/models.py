"""The kernel's tables on the one declarative ``Base`` every domain's models.py shares (SQLAlchemy 2.0 typed models).

Workflow state lives in ``Instance.state`` (SpiffWorkflow's serialization, minus the spec, which
is stored once per definition version). Everything a list or a permission check needs — open
tasks, due timers — is indexed in rows of its own so those queries never deserialize workflows.
Domain records (opinions, …) are rows too, in their domain's models.py: they are not task data.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

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
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

if TYPE_CHECKING:
    from engine.identity.models import Member


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


class Definition(Base):
    """One deployed version of a process definition or decision table; immutable once written.

    Its owner is a community (``community_id``), whose admins deployed it for that community only,
    or the platform (``community_id`` NULL): the bundled processes and what an operator deploys with
    the CLI. Versions are numbered per owner and key."""

    __tablename__ = "definitions"
    __table_args__ = (
        UniqueConstraint("community_id", "key", "version", name="uq_definitions_community_id"),
        Index("uq_platform_definition_versions", "key", "version", unique=True,
              sqlite_where=text("community_id IS NULL"), postgresql_where=text("community_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    """The community that owns this version; None: the platform's."""
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(String(10), default="bpmn")
    """``bpmn`` (a process, started as instances) or ``dmn`` (a decision table, evaluated by a domain)."""
    name: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    spec: Mapped[str] = mapped_column(Text)
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    """The community admin who deployed it; None for the platform's (bundled, or the CLI)."""
    deployer: Mapped[Member | None] = relationship(foreign_keys=[deployed_by], lazy="joined")

    @property
    def owner(self) -> str | int:
        """Who owns it, as histories and bundles name it: ``"platform"``, or the owning community's id."""
        return "platform" if self.community_id is None else self.community_id


class DefinitionAdoption(Base):
    """A community's choice of the version it runs for a key; each choice a row, the highest ``number`` holds.

    Written when the community first runs a key (the platform's version current then, ``adopted_by``
    None), when its admin adopts a platform version, and when its admin deploys a version of its own."""

    __tablename__ = "definition_adoptions"
    __table_args__ = (UniqueConstraint("community_id", "kind", "key", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(200))
    number: Mapped[int]
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"))
    definition: Mapped[Definition] = relationship()
    adopted_at: Mapped[datetime]
    adopted_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    """The admin who chose it; None: pinned when the community first ran the key."""


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
    salt: Mapped[str] = mapped_column(String(64))
    """The secret under which the history commits to personal data (see engine.audit.sealing.chain)."""
    head_hash: Mapped[str] = mapped_column(String(64))
    """The hash of the last event: the head of the instance's chain."""
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


class DemoClockOffset(Base):
    """The demo clock's offset (one row, id 1), shared by every process of a demo deployment; see ``DemoClock``."""

    __tablename__ = "demo_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    offset_seconds: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None]


class DemoClockAdvance(Base):
    """One advance of the demo clock: who, by how many seconds, from and to which (demo) time."""

    __tablename__ = "demo_clock_advances"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    seconds: Mapped[int]
    from_at: Mapped[datetime]
    to_at: Mapped[datetime]


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
    records: Mapped[list[Any]]
    """Fingerprints of the domain records the command wrote (see engine.audit.sealing.records)."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    instance: Mapped[Instance] = relationship()


class NotificationRead(Base):
    """A member's read marker: every notification up to ``read_until`` is read (``engine.kernel.notifications``).

    One row per member, moved forward only, by the command ``MarkNotificationsRead``. Notifications themselves are
    not stored: each domain derives them from its own rows; the marker is all that says which are new."""

    __tablename__ = "notification_reads"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    read_until: Mapped[datetime]
    updated_at: Mapped[datetime]
