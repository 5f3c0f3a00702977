"""Tellers' paper ballots in an encrypted vote (docs/ballot-encryption.md §13.1): the page's module
(``static/js/paper-ballot.js``) encrypts the paper's choice on the committee's computer under a fresh credential and
posts only the credential and the ballot; the choice in clear never leaves the browser.

The same engine as the JSON API: the election the page encrypts for is ``GET /api/votes/<id>/ceremony``'s
(``ceremony.ceremony_state``), entering is ``POST /api/votes/<id>/encrypted-paper-ballots``
(``CastEncryptedPaperBallot``) and correcting ``PUT …/encrypted-paper-ballots/<member_id>``
(``CorrectEncryptedPaperBallot``, with the tracker on the voter's slip and a reason). ``web.desk.tellers`` routes here
when the vote is encrypted.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

from engine.kernel.errors import Conflict, InvalidInput, PermissionDenied
from engine.voting import casting, ceremony, encrypted_paper
from engine.voting.commands import CastEncryptedPaperBallot, CorrectEncryptedPaperBallot
from engine.voting.models import Vote
from web.desk.routes import check_csrf
from web.i18n import translated
from web.views import engine, me, now, page, reader
from web.voting.forms import ChoiceField

MAX_BALLOT = 20_000
"""An encrypted ballot's JSON, at most this many characters (a 10-option ballot is about 6,000)."""

REFUSALS = {
    encrypted_paper.ALREADY_VOTED:
        _l("This voter has already voted (online or on paper): one ballot per voter. To change a paper ballot, correct it."),
    "this voter has already voted": _l("This voter has already voted (online or on paper): one ballot per voter."),
    encrypted_paper.NO_PAPER_BALLOT: _l("This voter has no paper ballot to correct (they voted online, or not yet)."),
    "the vote is closed": _l("The vote is closed: no ballot can be entered or corrected."),
    "you are not in this vote's electorate": _l("This member is not in the vote's electorate."),
}
TRACKER_REFUSALS = {
    encrypted_paper.TRACKER_REPLACED: _l("This tracker was replaced by a later correction. Enter the tracker of the latest paper slip."),
    encrypted_paper.NOT_THE_LATEST: _l("This is not the tracker of this voter's latest ballot. Copy it whole from the voter's paper slip."),
}


class EncryptedPaperForm(FlaskForm):
    choice = ChoiceField(_l("The choice on the paper ballot"))


class EncryptedCorrectionForm(FlaskForm):
    choice = ChoiceField(_l("The corrected choice"))
    tracker = StringField(_l("Tracker on the voter's paper slip"), validators=[
        DataRequired(message=_l("Enter the tracker from the voter's paper slip.")),
        Regexp(r"^\s*[0-9a-fA-F]{64}\s*$", message=_l("A tracker has 64 letters and digits (0–9, a–f): copy it whole."))])
    reason = TextAreaField(_l("Reason for the correction"), validators=[
        DataRequired(message=_l("Enter the reason for the correction.")),
        Length(max=casting.MAX_REASON, message=_l("Write the reason in %(most)s characters or fewer.", most=casting.MAX_REASON))])


def enter(vote: Vote, voter: dict[str, Any], context: dict[str, Any]) -> ResponseReturnValue:
    form = EncryptedPaperForm()
    status = 200
    if request.method == "POST":
        check_csrf()
        sent = _encrypted(form)
        if sent is None:
            status = 422
        else:
            try:
                cast = engine().execute(CastEncryptedPaperBallot(vote.id, voter["member_id"], *sent), me())
            except (Conflict, InvalidInput, PermissionDenied) as exc:
                status = _refused(form, exc)
            else:
                return page("desk/teller_tracker.html", vote=vote, voter=voter, cast=cast, corrected=False)
    return page("desk/teller_enter.html", status, form=form, voter=voter, open=_taking_ballots(vote), encrypted=True,
                election=_election(vote), **context)


def correct(vote: Vote, voter: dict[str, Any], context: dict[str, Any]) -> ResponseReturnValue:
    form = EncryptedCorrectionForm()
    status = 200
    if request.method == "POST":
        check_csrf()
        valid = form.validate()
        if "\x00" in (form.reason.data or ""):
            form.reason.errors = [*form.reason.errors, _("This has a character that is not allowed (NUL).")]
            valid = False
        sent = _encrypted(form)
        if not valid or sent is None:
            status = 422
        else:
            try:
                cast = engine().execute(CorrectEncryptedPaperBallot(
                    vote.id, voter["member_id"], form.tracker.data.strip().lower(), *sent, form.reason.data), me())
            except (Conflict, InvalidInput, PermissionDenied) as exc:
                status = _refused(form, exc)
            else:
                return page("desk/teller_tracker.html", vote=vote, voter=voter, cast=cast, corrected=True)
    return page("desk/teller_correct.html", status, form=form, voter=voter, open=_taking_ballots(vote), encrypted=True,
                election=_election(vote), **context)


def _taking_ballots(vote: Vote) -> bool:
    """Open, or still waiting for the trustees' key (the page then says so instead of showing the form)."""
    return vote.status in ("keying", "open") and now() < vote.deadline


def _election(vote: Vote) -> str | None:
    """The election descriptor the page's module encrypts for, as JSON (None while the trustees are keying)."""
    election = ceremony.ceremony_state(reader(), me(), vote.id)["election"]
    return json.dumps(election, ensure_ascii=False, separators=(",", ":")) if election is not None else None


def _encrypted(form: FlaskForm) -> tuple[str, Any] | None:
    """The credential and the ballot the page's module posted; None, with the error on the choice, when there are none
    (no JavaScript, or no choice made) or they cannot be read."""
    credential, ballot = request.form.get("credential", ""), request.form.get("ballot", "")
    if not credential or not ballot:
        form.choice.errors = [_("Choose the answer marked on the paper ballot. It is encrypted on this computer before it "
                                "is sent, which needs JavaScript: use the committee's computer.")]
        return None
    unreadable = _("The encrypted ballot could not be read. Choose the answer again and enter the ballot.")
    if len(ballot) > MAX_BALLOT or len(credential) > 64 or "\x00" in ballot + credential:
        form.choice.errors = [unreadable]
        return None
    try:
        return credential, json.loads(ballot)
    except (ValueError, RecursionError):  # not JSON, or nested beyond the parser's depth
        form.choice.errors = [unreadable]
        return None


def _refused(form: Any, exc: Conflict | InvalidInput | PermissionDenied) -> int:
    """The engine's refusal on the form: a field's error on its field (422), any other refusal above the form (409)."""
    if isinstance(exc, InvalidInput):
        for error in exc.details.get("errors", []) or [{"field": "", "message": exc.message}]:
            target = getattr(form, str(error.get("field")), None) if error.get("field") in ("tracker", "reason") else form.choice
            target.errors = [*target.errors, translated(str(error.get("message")))]
        return 422
    if exc.message in TRACKER_REFUSALS and hasattr(form, "tracker"):
        form.tracker.errors = [*form.tracker.errors, str(TRACKER_REFUSALS[exc.message])]
        return 422
    form.form_errors.append(str(REFUSALS.get(exc.message) or translated(exc.message)))
    return 409
