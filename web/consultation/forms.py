"""The consultation's forms: an opinion (given or edited), the committee's answer to one, and the withdrawal's confirmation.

Their limits are the API's (``api.consultation.schemas``: ``OpinionTextSchema``, ``AnswerSchema``), read from the same
engine constants; the engine checks them again and its field errors come back beside the fields (``show_errors``).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, RadioField, SelectChoice, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, ValidationError

from engine.consultation.opinions import MAX_OPINION_LENGTH, MAX_REASON_LENGTH, VERDICTS

VERDICT_LABELS = {
    "adopted": _l("Opinion adopted"),
    "partly_adopted": _l("Opinion partly adopted"),
    "not_adopted": _l("Opinion not adopted"),
}
"""Each verdict of ``engine.consultation.opinions.VERDICTS`` in words."""


def verdict_label(verdict: str | None) -> str:
    return str(VERDICT_LABELS.get(verdict or "", verdict or ""))


class Storable:
    """Text the database can hold: no NUL character (PostgreSQL refuses it; the API refuses it too)."""

    def __init__(self, message: Any) -> None:
        self.message = message

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if isinstance(field.data, str) and "\x00" in field.data:
            raise ValidationError(str(self.message))


class OpinionForm(FlaskForm):
    text = TextAreaField(_l("Your opinion"), validators=[
        DataRequired(_l("Write your opinion")),
        Length(max=MAX_OPINION_LENGTH, message=_l("Your opinion can be at most %(max)s characters long", max=MAX_OPINION_LENGTH)),
        Storable(_l("Your opinion contains a character that cannot be saved (NUL). Remove it and send again.")),
    ])


class AnswerForm(FlaskForm):
    verdict = RadioField(_l("Verdict"), choices=[SelectChoice(verdict, VERDICT_LABELS[verdict]) for verdict in VERDICTS],
                         validate_choice=False, validators=[DataRequired(_l("Choose a verdict")),
                                                            AnyOf(VERDICTS, message=_l("Choose a verdict"))])
    reason = TextAreaField(_l("Reason"), validators=[
        DataRequired(_l("Give the reason for this answer")),
        Length(max=MAX_REASON_LENGTH, message=_l("The reason can be at most %(max)s characters long", max=MAX_REASON_LENGTH)),
        Storable(_l("The reason contains a character that cannot be saved (NUL). Remove it and send again.")),
    ])

    def for_opinion(self, opinion_id: int) -> "AnswerForm":
        """Give the form's fields ids of their own, so that every opinion's answer form can stand on one page."""
        self.verdict.id = f"answer-{opinion_id}-verdict"
        self.reason.id = f"answer-{opinion_id}-reason"
        return self
