"""The pages' forms are Flask-WTF forms: each carries a CSRF token bound to the browser's session, and its fields'
errors are shown beside them when the form comes back."""

from __future__ import annotations

from flask_wtf import FlaskForm

from engine.kernel.errors import YishiError
from web.i18n import translated


class ActionForm(FlaskForm):
    """A button that changes something (withdraw, support, sign out): no field but its CSRF token."""


def show_errors(form: FlaskForm, refusal: YishiError, fields: dict[str, str] | None = None) -> None:
    """Put the engine's field errors on the form's fields (``fields`` maps the engine's names to the form's); an error
    for no field of the form goes to the form as a whole."""
    names = fields or {}
    placed = False
    for error in refusal.details.get("errors", []):
        target = getattr(form, names.get(str(error.get("field")), str(error.get("field"))), None)
        if target is not None and hasattr(target, "errors"):
            target.errors = [*target.errors, translated(str(error.get("message")))]
            placed = True
    if not placed:
        form.form_errors.append(translated(refusal.message))
