"""Conventions' commands: proposing, supporting, withdrawing and deciding amendments, commenting on articles (handled in ``handlers``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProposeAmendment:
    """A change to one article of a convention, made against the version the resident read."""

    convention_id: int
    version: int
    kind: str
    rationale: str
    article_id: str | None = None
    after: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class SupportAmendment:
    amendment_id: int


@dataclass(frozen=True)
class WithdrawAmendment:
    amendment_id: int


@dataclass(frozen=True)
class DecideAmendment:
    amendment_id: int
    outcome: str
    reason: str
    text: str | None = None


@dataclass(frozen=True)
class CommentOnArticle:
    convention_id: int
    version: int
    article_id: str
    text: str
