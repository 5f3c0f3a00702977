"""The database schema: SQLAlchemy 2.0 typed declarative models.

Workflow state lives in ``Instance.state`` (SpiffWorkflow's serialization, minus the spec, which
is stored once per definition version). Everything a list or a permission check needs — open
tasks, due timers — is indexed in rows of its own so those queries never deserialize workflows.
Domain records (opinions, …) are rows too: they are not task data.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
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
    text,
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
    """The secret under which the history commits to personal data (see engine.audit.chain)."""
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
    """Fingerprints of the domain records the command wrote (see engine.audit.records)."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    instance: Mapped[Instance] = relationship()


class Checkpoint(Base):
    """A signed statement of every instance's chain head at one moment (a Merkle root over them).

    Whoever rewrites a history afterwards, recomputing every hash, still disagrees with it. The
    tree's shape is the ``format``'s (``engine.audit.checkpoints``).
    """

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    format: Mapped[int] = mapped_column(server_default="1")
    """1: one tree over every head, its size signed; 2: a tree per community under a blinded one."""
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200))
    heads: Mapped[list[Any]]
    """[[community id, instance id, seq, hash], …] in instance-id order: the Merkle tree's leaves."""
    root: Mapped[str] = mapped_column(String(64))
    previous: Mapped[str] = mapped_column(String(64))
    """The hash of the previous checkpoint's signed statement: checkpoints chain too."""
    communities: Mapped[list[Any] | None]
    """Format 2: the id of every community at signing time, each a leaf even without instances."""
    blinding: Mapped[str | None] = mapped_column(String(64))
    """Format 2: the secret the community leaves' nonces and the empty subtrees derive from; never shown."""
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


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
    electorate_digest: Mapped[str | None] = mapped_column(String(64), info={"audit_omit_when_null": True})
    """The frozen electorate's hash (``engine.voting.electorate.roll_digest``), bound to the history with
    this record when the vote opens. None for votes opened before it existed, whose records were bound
    without it: their fingerprints leave it out."""


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
    client's idempotency key, which is stored only as a hash. That unique index leads with the hash
    so that only the primary key starts with ``vote_id``: PostgreSQL's generic plan for a voter's
    lookup, made while a vote is empty, cannot then pick an index scanning the whole vote.
    """

    __tablename__ = "participations"
    __table_args__ = (UniqueConstraint("idempotency_hash", "vote_id"),)

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
    receipt_tag: Mapped[str | None] = mapped_column(String(64))
    """A keyed digest of the voter's latest receipt (``engine.voting.seals``): only that receipt changes
    the ballot, and only once. None for ballots cast before it existed."""


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


class ReplacedBallot(Base):
    """The fingerprint of a ballot that a later one replaced: its receipt is spent, and the receipt
    check can say it was recorded but is no longer current. No choice, no voter, no time; like
    ``ballots``, kept without a rowid on SQLite, so the row's place says nothing of when."""

    __tablename__ = "replaced_ballots"
    __table_args__ = {"sqlite_with_rowid": False}

    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)


class Convention(Base):
    """A community convention (社区公约): a text drafted, amended and adopted by the community.

    ``adopted_number`` names the version in force; amending it later starts a new drafting
    process from that text, and the adopted version stays in force until another is adopted.
    """

    __tablename__ = "conventions"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    last_article: Mapped[int]
    """The highest article number handed out, so a new article never reuses a retired id."""
    adopted_number: Mapped[int | None]
    effective_date: Mapped[date | None]
    adopted_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    versions: Mapped[list[ConventionVersion]] = relationship(order_by="ConventionVersion.number", viewonly=True)
    rounds: Mapped[list[DraftingRound]] = relationship(order_by="DraftingRound.number", viewonly=True)

    @property
    def adopted_version(self) -> ConventionVersion | None:
        """The text in force (None until one is adopted)."""
        return next((v for v in self.versions if v.number == self.adopted_number), None)


class ConventionVersion(Base):
    """One version of a convention's text; never changed once written. ``fingerprint`` is the
    sha256 of its canonical JSON (``engine.texts.fingerprint``)."""

    __tablename__ = "convention_versions"
    __table_args__ = (UniqueConstraint("convention_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    convention_id: Mapped[int] = mapped_column(ForeignKey("conventions.id"), index=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    articles: Mapped[list[Any]]
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    """``draft`` (written by the committee) or ``consolidated`` (a round's decided amendments applied)."""
    reason: Mapped[str] = mapped_column(Text)
    based_on: Mapped[int | None]
    amendment_ids: Mapped[list[Any]]
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]


class DraftingRound(Base):
    """One round of a convention's drafting: amendments to a version, their review, the notice and the vote.

    ``status`` follows the process: amending → reviewing → notice → voting → passed → adopted,
    or → rejected (then another round, or abandoned).
    """

    __tablename__ = "drafting_rounds"
    __table_args__ = (UniqueConstraint("convention_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    convention_id: Mapped[int] = mapped_column(ForeignKey("conventions.id"), index=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    base_number: Mapped[int]
    result_number: Mapped[int | None]
    amendment_deadline: Mapped[datetime]
    notice_days: Mapped[int]
    notice_ends: Mapped[datetime | None]
    vote_id: Mapped[str | None] = mapped_column(ForeignKey("votes.id"))
    vote_outcome: Mapped[str | None] = mapped_column(String(20))
    closing_reason: Mapped[str | None] = mapped_column(Text)
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    instance: Mapped[Instance] = relationship()
    amendments: Mapped[list[Amendment]] = relationship(order_by="Amendment.id", viewonly=True)
    comments: Mapped[list[ArticleComment]] = relationship(order_by="ArticleComment.id", viewonly=True)


class Amendment(Base):
    """A resident's proposed change to one article (replace, insert after, delete), and the committee's decision.

    ``version_number`` is the version the author read; ``original_text`` the article as it stands
    in the round's text, which the proposal (and the committee's wording) are compared with.
    """

    __tablename__ = "amendments"

    id: Mapped[int] = mapped_column(primary_key=True)
    convention_id: Mapped[int] = mapped_column(ForeignKey("conventions.id"), index=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("drafting_rounds.id"), index=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(10))
    article_id: Mapped[str | None] = mapped_column(String(20))
    after_id: Mapped[str | None] = mapped_column(String(20))
    """For an insertion: the article the new one follows (None: at the start)."""
    text: Mapped[str | None] = mapped_column(Text)
    original_text: Mapped[str | None] = mapped_column(Text)
    rationale: Mapped[str] = mapped_column(Text)
    version_number: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    outcome: Mapped[str | None] = mapped_column(String(30))
    decision_text: Mapped[str | None] = mapped_column(Text)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    decided_at: Mapped[datetime | None]
    result_article_id: Mapped[str | None] = mapped_column(String(20))
    """The article the amendment became or changed in the consolidated version (set at consolidation)."""

    round: Mapped[DraftingRound] = relationship()
    supports: Mapped[list[AmendmentSupport]] = relationship(order_by="AmendmentSupport.created_at")


class AmendmentSupport(Base):
    """A resident's public support for someone else's amendment; once per resident and amendment."""

    __tablename__ = "amendment_supports"

    amendment_id: Mapped[int] = mapped_column(ForeignKey("amendments.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    created_at: Mapped[datetime]


class ArticleComment(Base):
    """A resident's comment on one article of a round's text, public to the community."""

    __tablename__ = "article_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    convention_id: Mapped[int] = mapped_column(ForeignKey("conventions.id"), index=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("drafting_rounds.id"))
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    article_id: Mapped[str] = mapped_column(String(20))
    version_number: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

    round: Mapped[DraftingRound] = relationship()


class ServiceSeries(Base):
    """A community service managed in plan-do-check-act cycles by one pdca process instance.

    ``standard`` is the standard the next cycle starts with (the committee may tighten it between
    cycles); each cycle keeps its own frozen copy.
    """

    __tablename__ = "pdca_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    service: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    provider_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    cycle_days: Mapped[int]
    rating_days: Mapped[int]
    answer_hours: Mapped[int]
    standard: Mapped[list[Any]]
    status: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]
    end_requested_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    end_requested_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(Text)
    ended_at: Mapped[datetime | None]


class ServiceCycle(Base):
    """One plan-do-check-act cycle of a series: its frozen standard, its phase and its dates.

    ``decision_id`` pins the version of the classifying DMN table that was newest when the cycle
    started, so deploying a new version changes the classification of later cycles only.
    """

    __tablename__ = "pdca_cycles"
    __table_args__ = (UniqueConstraint("series_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("pdca_series.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    number: Mapped[int]
    standard: Mapped[list[Any]]
    decision_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"))
    status: Mapped[str] = mapped_column(String(10))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    period_closed_at: Mapped[datetime | None]
    rating_deadline: Mapped[datetime | None]
    checked_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    series: Mapped[ServiceSeries] = relationship()
    decision: Mapped[Definition] = relationship()


class ServiceRecord(Base):
    """One delivery of the service in a cycle: when, to whom (the subject) and who recorded it.

    ``resident_id`` names the resident served, when there is one: only residents named by a record
    of the cycle may rate the cycle's service.
    """

    __tablename__ = "pdca_service_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("pdca_cycles.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    served_at: Mapped[datetime]
    subject: Mapped[str] = mapped_column(String(200))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    recorded_at: Mapped[datetime]


class Measurement(Base):
    """A measured value of a metric in a cycle (a repair's response time in hours, …)."""

    __tablename__ = "pdca_measurements"
    __table_args__ = (Index("ix_pdca_measurements_cycle_metric", "cycle_id", "metric"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("pdca_cycles.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    metric: Mapped[str] = mapped_column(String(64))
    value: Mapped[float]
    measured_at: Mapped[datetime]
    subject: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    recorded_at: Mapped[datetime]


class ServiceRating(Base):
    """A served resident's rating of a cycle's service, 1 to 5, once per resident and cycle."""

    __tablename__ = "pdca_ratings"
    __table_args__ = (UniqueConstraint("cycle_id", "resident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("pdca_cycles.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime]


class ServiceRequest(Base):
    """A resident's service request or complaint during a cycle, and its answer."""

    __tablename__ = "pdca_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("pdca_cycles.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    kind: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    filed_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    filed_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    answered_at: Mapped[datetime | None]


class IndicatorResult(Base):
    """An indicator's value computed at a cycle's check, its target then, and the DMN's classification.

    ``value`` is None when there was nothing to compute it from ("no data", which is not zero).
    """

    __tablename__ = "pdca_indicator_results"
    __table_args__ = (UniqueConstraint("cycle_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("pdca_cycles.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None]
    samples: Mapped[int]
    target: Mapped[float]
    direction: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    escalated: Mapped[bool]
    decision_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"))
    computed_at: Mapped[datetime]


class CorrectiveAction(Base):
    """A corrective action for a missed indicator: assigned, reported done, then verified (and closed).

    An action is closed only by the committee's verification of its effect, which records whether
    it was effective.
    """

    __tablename__ = "pdca_corrective_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("pdca_cycles.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    indicator: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    due_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(10))
    assigned_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    assigned_at: Mapped[datetime]
    report: Mapped[str | None] = mapped_column(Text)
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    reported_at: Mapped[datetime | None]
    effective: Mapped[bool | None]
    verification: Mapped[str | None] = mapped_column(Text)
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    verified_at: Mapped[datetime | None]
