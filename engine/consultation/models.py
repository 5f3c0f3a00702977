"""The table of opinions: what residents submit during a consultation, and the committee's answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.audit.sealing.records import audited
from engine.identity.models import Member
from engine.kernel.models import Base


@audited("opinion", private=("text", "answer_reason"))
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
