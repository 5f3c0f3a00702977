"""Consultation's commands: submitting, editing, withdrawing and answering opinions (handled in ``handlers``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SubmitOpinion:
    instance_id: str
    text: str


@dataclass(frozen=True)
class EditOpinion:
    opinion_id: int
    text: str


@dataclass(frozen=True)
class WithdrawOpinion:
    opinion_id: int


@dataclass(frozen=True)
class AnswerOpinion:
    opinion_id: int
    verdict: str
    reason: str
