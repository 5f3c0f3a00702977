"""The convention pages' forms: propose an amendment, comment on an article, the committee's decision, and the picker of
two versions to compare. Each field says what it needs in plain words; the engine checks the rest (its field errors
are put beside the fields, ``web.forms.show_errors``)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp, ValidationError

MAX_TEXT = 5000
"""As the engine's ``MAX_TEXT_LENGTH``: an article, a rationale, a reason or a comment."""
VERSION = r"^[1-9][0-9]{0,8}$"


def no_control_characters(_form: Any, field: Any) -> None:
    """NUL and other control characters (but tabs and line breaks) are no part of a text residents write."""
    if field.data and any(ord(c) < 32 and c not in "\t\r\n" for c in field.data):
        raise ValidationError(_l("Remove the special characters from this text"))


def _text(required: str | None, label: Any) -> TextAreaField:
    first = [DataRequired(required)] if required else [Optional()]
    return TextAreaField(label, validators=[*first, Length(max=MAX_TEXT, message=_l("Write at most 5000 characters")),
                                            no_control_characters])


class AmendmentForm(FlaskForm):
    kind = RadioField(_l("What do you propose?"), choices=[
        ("replace", _l("Change this article: write it as it should read")),
        ("insert", _l("Add a new article after this one")),
        ("delete", _l("Delete this article")),
    ], validators=[InputRequired(_l("Choose what you propose"))])
    text = _text(None, _l("The new text"))
    rationale = _text(_l("Say why you propose this change"), _l("Why?"))
    version = HiddenField(validators=[Regexp(VERSION, message=_l("This form is out of date. Reload the page."))])


class CommentForm(FlaskForm):
    text = _text(_l("Write your comment"), _l("Your comment"))
    version = HiddenField(validators=[Regexp(VERSION, message=_l("This form is out of date. Reload the page."))])


class DecisionForm(FlaskForm):
    outcome = RadioField(_l("Decision"), choices=[
        ("accepted", _l("Accept")),
        ("accepted_with_changes", _l("Accept with the committee's wording")),
        ("rejected", _l("Reject")),
    ], validators=[InputRequired(_l("Choose a decision"))])
    text = _text(None, _l("The committee's wording"))
    reason = _text(_l("Give the reason for the decision"), _l("Reason"))


class DiffForm(FlaskForm):
    """Which two versions to compare, and how (a GET form: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    old = SelectField(_l("From version"), name="from", validate_choice=False,
                      validators=[DataRequired(_l("Choose a version")), Regexp(VERSION, message=_l("Choose a version"))])
    new = SelectField(_l("To version"), name="to", validate_choice=False,
                      validators=[DataRequired(_l("Choose a version")), Regexp(VERSION, message=_l("Choose a version"))])
