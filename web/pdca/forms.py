"""The service-quality forms: a rating (a score in words, an optional comment), a request or complaint, an answer.

The forms check only what a browser can get wrong on its own (nothing chosen, far too long); every rule of the
service — the window, who was served, the lengths the API accepts — is the engine's, and its refusals are put on these
fields (``web.forms.show_errors``)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, RadioField, SelectChoice, TextAreaField
from wtforms.validators import InputRequired, Length, ValidationError

from engine.pdca.validation import MAX_TEXT

SCORES = {5: _l("Very good"), 4: _l("Good"), 3: _l("Fair"), 2: _l("Poor"), 1: _l("Very poor")}
"""The score a resident chooses, in words, best first (the engine takes 1 to 5)."""
KINDS = {"request": _l("A request: ask for a service"), "complaint": _l("A complaint: something went wrong")}
LIMIT = MAX_TEXT * 2
"""Far longer than the engine accepts, so that its own message words the limit; longer still is refused here."""


def no_nul(_form: Any, field: Field) -> None:
    """A NUL character cannot be stored (PostgreSQL's text refuses it): refuse it here, as the API does."""
    if isinstance(field.data, str) and "\x00" in field.data:
        raise ValidationError(_l("Your text contains a character that cannot be stored. Remove it and send it again."))


def score_or_text(value: Any) -> Any:
    """The chosen score as a number, or what was sent (which the engine then refuses, naming the field)."""
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= 3:
        return int(value.strip())
    return value


class RatingForm(FlaskForm):
    score = RadioField(_l("How good was the service?"), choices=[SelectChoice(score, words) for score, words in SCORES.items()], coerce=score_or_text, validate_choice=False,
                       validators=[InputRequired(_l("Choose how good the service was"))])
    comment = TextAreaField(_l("Comment (optional)"), validators=[Length(max=LIMIT, message=_l("Your text is too long")), no_nul])


class RequestForm(FlaskForm):
    kind = RadioField(_l("What do you want to send?"), choices=[SelectChoice(kind, words) for kind, words in KINDS.items()], validate_choice=False,
                      validators=[InputRequired(_l("Choose a request or a complaint"))])
    text = TextAreaField(_l("What should the provider know?"),
                         validators=[InputRequired(_l("Write your request or complaint")),
                                     Length(max=LIMIT, message=_l("Your text is too long")), no_nul])


class AnswerForm(FlaskForm):
    answer = TextAreaField(_l("Your answer"), validators=[InputRequired(_l("Write your answer")),
                                                          Length(max=LIMIT, message=_l("Your text is too long")), no_nul])
