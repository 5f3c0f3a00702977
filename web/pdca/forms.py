"""The service-quality forms: a rating (a score in words, an optional comment), a request or complaint, an answer;
assigning, reporting and verifying a corrective action.

The forms check only what a browser can get wrong on its own (nothing chosen, far too long); every rule of the
service — the window, who was served, the lengths the API accepts — is the engine's, and its refusals are put on these
fields (``web.forms.show_errors``)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, RadioField, SelectChoice, SelectField, StringField, TextAreaField
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


# ---- corrective actions --------------------------------------------------------------------------------

EFFECTIVE = {"yes": _l("Yes, it worked"), "no": _l("No, it did not work")}
"""The committee's verdict on an action's effect, in words (the engine takes true or false)."""
ID_DIGITS = 10


def member_id_or_text(value: Any) -> Any:
    """The chosen member's id as a number, or what was sent (which the engine then refuses, naming the field)."""
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= ID_DIGITS:
        return int(value.strip())
    return value


def effective_or_text(value: Any) -> Any:
    """``yes``/``no`` as the engine's true/false; anything else as sent (refused by the form's own check)."""
    return {"yes": True, "no": False}.get(value, value) if isinstance(value, str) else value


class AssignForm(FlaskForm):
    """One corrective action for one missed indicator (``POST /api/pdca/cycles/<id>/corrective-actions``). Several are
    on one page, one per missed indicator: the indicator travels in a hidden field, and each field gets its own id."""

    indicator = HiddenField()
    description = TextAreaField(_l("What will be done"), validators=[
        InputRequired(_l("Describe the corrective action")), Length(max=LIMIT, message=_l("Your text is too long")), no_nul])
    owner_id = SelectField(_l("Who carries it out"), coerce=member_id_or_text, validate_choice=False,
                           validators=[InputRequired(_l("Choose who carries it out"))])
    due_date = StringField(_l("Due date"), validators=[InputRequired(_l("Enter the due date")),
                                                       Length(max=40, message=_l("Enter a date as YYYY-MM-DD")), no_nul])


class ReportForm(FlaskForm):
    """An action reported done (``POST /api/pdca/corrective-actions/<id>/report``)."""

    report = TextAreaField(_l("What was done"), validators=[
        InputRequired(_l("Say what was done")), Length(max=LIMIT, message=_l("Your text is too long")), no_nul])


class VerifyForm(FlaskForm):
    """The committee's verification of an action's effect (``POST /api/pdca/corrective-actions/<id>/verify``)."""

    effective = RadioField(_l("Did the action work?"), choices=[SelectChoice(key, words) for key, words in EFFECTIVE.items()],
                           coerce=effective_or_text, validate_choice=False,
                           validators=[InputRequired(_l("Choose whether the action worked"))])
    note = TextAreaField(_l("What the committee found"), validators=[
        InputRequired(_l("Write what the committee found")), Length(max=LIMIT, message=_l("Your text is too long")), no_nul])

    def validate_effective(self, field: Field) -> None:
        if not isinstance(field.data, bool):
            raise ValidationError(_l("Choose whether the action worked"))
