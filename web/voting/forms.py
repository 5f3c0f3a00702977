"""The ballot's forms. A ballot's choice fields depend on the vote (its method and options), so the choice is read from
the posted form by ``ballots.read_choice``; the form object carries the CSRF token, the receipt of a changed ballot, the
idempotency key the confirmation page sends, and the choice's errors."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp


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


# ---- the encrypting booth (web/voting/booth.py) ------------------------------------------------

HEX64 = r"^[0-9a-f]{64}$"
MAX_BALLOT = 100_000
"""A yes/no/abstain or plurality ballot of a few options is about 2 KB of JSON; anything near this is not one."""


class CredentialForm(FlaskForm):
    """The public key of the credential the booth made on the device (its secret stays there)."""

    credential = HiddenField(validators=[DataRequired(_l("Your device did not make a voting key. Reload the page and try again.")),
                                         Regexp(HEX64, message=_l("Your device did not make a voting key. Reload the page and try again."))])
    replace = BooleanField()
    """The voter lost the registered voting key before voting: this one takes its place (the engine refuses it once a
    ballot was cast for them)."""


class EncryptedBallotForm(FlaskForm):
    """The encrypted ballot the booth made, as JSON (checked by the engine: proofs, signature, credential)."""

    ballot = HiddenField(_l("Your encrypted ballot"), validators=[
        DataRequired(_l("Encrypt your choice first.")),
        Length(max=MAX_BALLOT, message=_l("This is not a ballot your device made. Reload the page and encrypt your choice again."))])


class AuditForm(FlaskForm):
    tracker = HiddenField(validators=[DataRequired(_l("A tracker is 64 letters a–f and digits.")),
                                      Regexp(HEX64, message=_l("A tracker is 64 letters a–f and digits."))])


class TrackerForm(FlaskForm):
    """Find a tracker on the board (a GET form: trackers are public, nothing changes)."""

    tracker = StringField(_l("Your ballot tracker"), filters=[lambda v: "".join((v or "").split()).lower() or None],
                          validators=[DataRequired(_l("Enter the tracker you were shown when you cast your ballot.")),
                                      Regexp(HEX64, message=_l("A tracker is 64 letters a–f and digits: copy it whole."))])
