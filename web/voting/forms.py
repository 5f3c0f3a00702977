"""The ballot's forms. A ballot's choice fields depend on the vote (its method and options), so the choice is read from
the posted form by ``ballots.read_choice``; the form object carries the CSRF token, the receipt of a changed ballot, the
idempotency key the confirmation page sends, and the choice's errors."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, StringField
from wtforms.validators import Length, Optional


class ChoiceField(Field):
    """The posted choice, whatever its fields (radios, checkboxes, ranks): read by ``ballots.read_choice``. It exists so
    its errors are shown as every other field's (``errors_summary`` links to ``#choice``, the ballot's fieldset)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = valuelist

    def _value(self) -> str:
        return ""


class BallotForm(FlaskForm):
    choice = ChoiceField(_l("Your choice"))
    receipt = StringField(_l("The receipt of your last ballot"),
                          validators=[Optional(), Length(min=8, max=100, message=_l("A receipt has 32 letters and digits"))])
    idempotency_key = HiddenField(validators=[Optional(), Length(min=16, max=200)])


class ReceiptCheckForm(FlaskForm):
    check_receipt = StringField(_l("Your receipt"),
                          validators=[Length(min=8, max=100, message=_l("A receipt has 32 letters and digits: copy it whole"))])
