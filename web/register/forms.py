"""The register's forms: search, add a member, upload a register file, confirm an import, choose letters to print."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, RadioField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

ROLE_LABELS = {
    "committee": _l("Committee"),
    "resident": _l("Resident"),
    "owner": _l("Owner"),
    "auditor": _l("Auditor"),
    "provider": _l("Service provider"),
    "admin": _l("Admin"),
    "street_office": _l("Street office"),
}
"""Every role of ``engine.identity.members.ROLES``, in words (a test keeps them equal)."""


PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
"""No control characters (NUL included: PostgreSQL's text refuses it)."""


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class AddMemberForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the member's name")),
                                               Length(max=200, message=_l("A name has at most 200 characters")),
                                               Regexp(PRINTABLE, message=_l("Use letters, digits and punctuation only"))])
    roles = MultiCheckboxField(_l("Roles"), choices=[SelectChoice(role, label) for role, label in ROLE_LABELS.items()],
                               validators=[DataRequired(_l("Choose at least one role"))])
    household = StringField(_l("Household (optional)"), validators=[
        Optional(), Length(max=100, message=_l("A household has at most 100 characters")),
        Regexp(PRINTABLE, message=_l("Use letters, digits and punctuation only"))])
    area = StringField(_l("Floor area in m² (owners, optional)"), validators=[
        Optional(), Regexp(r"^\d{1,9}(\.\d{1,4})?$", message=_l("Write the area as a number, for example 86.35"))])


class UploadForm(FlaskForm):
    file = FileField(_l("Register file (CSV)"))


class ConfirmImportForm(FlaskForm):
    csv_data = HiddenField()
    sha256 = HiddenField()
    signature = HiddenField()


class LettersForm(FlaskForm):
    who = RadioField(_l("Who gets a letter?"), choices=[
        SelectChoice("without", _l("Every member without an unused code")), SelectChoice("chosen", _l("The members I choose below"))],
        default="without", validators=[DataRequired(_l("Choose who gets a letter"))])
    member_ids = MultiCheckboxField(_l("Members"), coerce=int, choices=[], validate_choice=False)
