"""Tables of conventions: conventions, their versions, drafting rounds, amendments (with support) and article comments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.audit.sealing.records import audited
from engine.kernel.models import Base, Instance


@audited("convention")
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


@audited("convention_version")
class ConventionVersion(Base):
    """One version of a convention's text; never changed once written. ``fingerprint`` is the
    sha256 of its canonical JSON (``engine.conventions.texts.fingerprint``)."""

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


@audited("drafting_round")
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


@audited("amendment")
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


@audited("article_comment")
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
