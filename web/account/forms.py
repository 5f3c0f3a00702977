"""The sign-in form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length


class SignInForm(FlaskForm):
    code = StringField(_l("Sign-in code"), validators=[DataRequired(_l("Enter the code from your letter")),
                                                        Length(max=40, message=_l("A sign-in code has 10 letters and digits"))])
    next = HiddenField()


class LocaleForm(FlaskForm):
    locale = HiddenField()
    next = HiddenField()
