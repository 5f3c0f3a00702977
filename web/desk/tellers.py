"""Tellers (计票员) enter paper ballots: find a voter of the frozen electorate, enter their ballot, correct it with a
reason; every entry listed with the teller who made it and when.

The same engine as the JSON API: finding voters is ``GET /api/votes/<id>/paper-ballots/voters?q=``
(``voting_queries.paper_voters``), the entries are ``GET /api/votes/<id>/paper-ballots`` (``paper_entries``), entering
is ``POST /api/votes/<id>/paper-ballots`` (``EnterPaperBallot``) and correcting ``PUT …/paper-ballots/<member_id>``
(``CorrectPaperBallot`` with its reason). Who may be a teller is the engine's ``casting.TELLER_ROLES``. The ballot's
fields are the voting area's (``voting/_ballot.html``, ``web.voting.ballots.read_choice``).
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.exceptions import NotFound
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from engine.kernel.errors import Conflict, InvalidInput, PermissionDenied
from engine.kernel.queries import MAX_PAGE_SIZE, paginate
from engine.voting import casting
from engine.voting import queries as voting_queries
from engine.voting.commands import CorrectPaperBallot, EnterPaperBallot
from web.desk import encrypted_paper
from engine.voting.models import Vote
from web.desk.routes import blp, check_csrf
from web.i18n import translated
from web.views import engine, me, member_required, now, page, reader
from web.voting import ballots
from web.voting.forms import ChoiceField

VOTE_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
MAX_MEMBER_ID = 2**31 - 1

REFUSALS = {
    "this voter has already voted (online or on paper); correct the paper ballot instead":
        _l("This voter has already voted (online or on paper): one ballot per voter. To change a paper ballot, correct it."),
    "this voter has already voted": _l("This voter has already voted (online or on paper): one ballot per voter."),
    "there is no paper ballot of this voter to correct":
        _l("This voter has no paper ballot to correct (they voted online, or not yet)."),
    "the vote is closed": _l("The vote is closed: no ballot can be entered or corrected."),
    "you are not in this vote's electorate": _l("This member is not in the vote's electorate."),
}
RECEIPT_REFUSALS = {
    casting.REPLACED: _l("This receipt was replaced by a later correction. Enter the receipt of the latest paper slip."),
    casting.NOT_YOURS: _l("This is not the receipt of this voter's latest ballot."),
    "that receipt is not the one of a ballot in this vote (only the latest receipt counts)":
        _l("No ballot of this vote has this receipt. Check that it was copied whole from the voter's paper slip."),
}


class PaperBallotForm(FlaskForm):
    choice = ChoiceField(_l("The choice on the paper ballot"))


class CorrectionForm(FlaskForm):
    choice = ChoiceField(_l("The corrected choice"))
    receipt = StringField(_l("Receipt on the voter's paper slip"), validators=[
        DataRequired(message=_l("Enter the receipt from the voter's paper slip.")),
        Length(min=8, max=100, message=_l("A receipt has 32 letters and digits: copy it whole."))])
    reason = TextAreaField(_l("Reason for the correction"), validators=[
        DataRequired(message=_l("Enter the reason for the correction.")),
        Length(max=casting.MAX_REASON, message=_l("Write the reason in %(most)s characters or fewer.", most=casting.MAX_REASON))])


def teller_required(view: Any) -> Any:
    """Members with a teller's role (the engine's ``TELLER_ROLES``); others get 403."""
    from functools import wraps

    @member_required
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if not set(me().roles) & set(casting.TELLER_ROLES):
            abort(403)
        return view(*args, **kwargs)
    return guarded


def _vote(vote_id: str) -> Vote:
    if not VOTE_ID.fullmatch(vote_id):
        raise NotFound()
    return voting_queries.get_vote(reader(), me(), vote_id)


def _voter(vote: Vote, member_id: int) -> dict[str, Any]:
    """The member, as a teller finds them in the vote's electorate; 404 when they are not in it."""
    if member_id > MAX_MEMBER_ID:
        abort(404)
    found = _voter_rows(vote, member_id)
    if not found:
        abort(404)
    return found[0]


def _voter_rows(vote: Vote, member_id: int) -> list[dict[str, Any]]:
    return voting_queries.paper_voters(reader(), me(), vote.id, None, member_id)


def _is_open(vote: Vote) -> bool:
    return vote.status == "open" and now() < vote.deadline


def _ballot_context(vote: Vote, choice: Any) -> dict[str, Any]:
    return {"vote": vote, "selected": ballots.selected(vote, choice), "answers": ballots.SHORT_ANSWERS,
            "labels": ballots.labels(vote), "ordinal": ballots.ordinal, "ranked": vote.method in ("irv", "schulze"),
            "method_words": ballots.METHODS.get(vote.method, vote.method)}


def _refusal(message: str) -> str:
    return str(REFUSALS.get(message) or translated(message))


@blp.route("/desk/votes")
@teller_required
def teller_votes() -> ResponseReturnValue:
    votes = paginate(reader(), voting_queries.votes_in_community(me()), 1, MAX_PAGE_SIZE).items
    return page("desk/teller_votes.html", votes=[v for v in votes if _is_open(v)])


@blp.route("/desk/votes/<vote_id>/paper")
@teller_required
def paper(vote_id: str) -> ResponseReturnValue:
    vote = _vote(vote_id)
    search = request.args.get("q", "")
    status = 200
    error = ""
    if len(search) > 200 or "\x00" in search:
        error, status, search = _("Search with at most 200 characters."), 422, search[:200].replace("\x00", "")
    searched = "q" in request.args
    voters = voting_queries.paper_voters(reader(), me(), vote.id, search) if searched and not error else []
    return page("desk/teller_paper.html", status, vote=vote, search=search, searched=searched, voters=voters, error=error,
                entries=voting_queries.paper_entries(reader(), me(), vote.id), open=_is_open(vote), keying=vote.status == "keying",
                turnout=voting_queries.turnout(reader(), vote), done=request.args.get("done"),
                most=voting_queries.MAX_VOTERS_FOUND)


@blp.route("/desk/votes/<vote_id>/paper/<int:member_id>", methods=["GET", "POST"])
@teller_required
def enter_paper(vote_id: str, member_id: int) -> ResponseReturnValue:
    vote = _vote(vote_id)
    voter = _voter(vote, member_id)
    if vote.secrecy is not None:
        return encrypted_paper.enter(vote, voter, _ballot_context(vote, None))
    form = PaperBallotForm()
    choice: Any = None
    status = 200
    if request.method == "POST":
        check_csrf()
        read = ballots.read_choice(vote, request.form)
        choice = read.choice
        if read.error:
            form.choice.errors = [read.error]
            status = 422
        else:
            try:
                receipt = engine().execute(EnterPaperBallot(vote.id, member_id, read.choice), me())
            except InvalidInput as exc:
                form.choice.errors = [translated(str(e.get("message"))) for e in exc.details.get("errors", [])] or [translated(exc.message)]
                status = 422
            except (Conflict, PermissionDenied) as exc:
                form.form_errors.append(_refusal(exc.message))
                status = 409
            else:
                return page("desk/teller_receipt.html", vote=vote, voter=voter, receipt=receipt, corrected=False,
                            lines=ballots.choice_lines(vote, read.choice))
    return page("desk/teller_enter.html", status, form=form, voter=voter, open=_is_open(vote), **_ballot_context(vote, choice))


@blp.route("/desk/votes/<vote_id>/paper/<int:member_id>/correct", methods=["GET", "POST"])
@teller_required
def correct_paper(vote_id: str, member_id: int) -> ResponseReturnValue:
    vote = _vote(vote_id)
    voter = _voter(vote, member_id)
    if vote.secrecy is not None:
        return encrypted_paper.correct(vote, voter, _ballot_context(vote, None))
    form = CorrectionForm()
    choice: Any = None
    status = 200
    if request.method == "POST":
        check_csrf()
        valid = form.validate()
        read = ballots.read_choice(vote, request.form)
        choice = read.choice
        if read.error:
            form.choice.errors = [read.error]
        if "\x00" in (form.reason.data or "") or "\x00" in (form.receipt.data or ""):
            target = form.reason if "\x00" in (form.reason.data or "") else form.receipt
            target.errors = [*target.errors, _("This has a character that is not allowed (NUL).")]
            valid = False
        if not valid or read.error:
            status = 422
        else:
            try:
                receipt = engine().execute(CorrectPaperBallot(vote.id, member_id, form.receipt.data.strip(), read.choice,
                                                              form.reason.data), me())
            except InvalidInput as exc:
                status = 422
                for error in exc.details.get("errors", []) or [{"field": "", "message": exc.message}]:
                    target = form.reason if error.get("field") == "reason" else form.choice
                    target.errors = [*target.errors, translated(str(error.get("message")))]
            except Conflict as exc:
                status = 409
                if exc.message in RECEIPT_REFUSALS:
                    form.receipt.errors = [*form.receipt.errors, str(RECEIPT_REFUSALS[exc.message])]
                    status = 422
                else:
                    form.form_errors.append(_refusal(exc.message))
            except PermissionDenied as exc:
                status = 409
                form.form_errors.append(_refusal(exc.message))
            else:
                return page("desk/teller_receipt.html", vote=vote, voter=voter, receipt=receipt, corrected=True,
                            lines=ballots.choice_lines(vote, read.choice))
    return page("desk/teller_correct.html", status, form=form, voter=voter, open=_is_open(vote), **_ballot_context(vote, choice))


__all__ = ["correct_paper", "enter_paper", "paper", "teller_votes"]
