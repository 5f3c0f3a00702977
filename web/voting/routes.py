"""Votes (表决): the question and its options, a ballot for every method, a confirmation step, the receipt shown once, changing a ballot before the close, live turnout; after the close the result in words, the bulletin board, checking a receipt and recounting offline.

Every page reads what the JSON API reads (``engine.voting.queries``: ``votes_in_community`` as ``GET /api/votes``,
``get_vote``, ``my_participation`` as ``/me``, ``turnout``, ``result``, ``bulletin_board``, ``check_receipt``) and a
ballot is cast by the same command as ``POST /api/votes/<id>/ballots``: ``CastBallot`` with an idempotency key, run
for the signed-in member in one transaction (``Engine.execute``; the API's ``execute_together`` takes a bearer token,
a page has a session's member instead). The key is drawn when the confirmation page is shown, so sending that page
twice (a double click, a reload) casts once and answers with the same receipt. The receipt is written into the
response to the cast and nowhere else: not in a cookie, not in the session, not in a URL.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import NotFound

from engine.kernel.errors import Conflict, InvalidInput, PermissionDenied, YishiError
from engine.kernel.queries import MAX_PAGE_SIZE, paginate
from engine.voting import casting
from engine.voting import queries as voting_queries
from engine.voting.commands import CastBallot
from engine.voting.models import Vote
from web.i18n import translated
from web.links import links_to, menu_entry
from web.views import engine, me, member_required, now, page, reader
from web.voting import ballots, booth, explanation
from web.voting.forms import BallotForm, ReceiptCheckForm

blp = Blueprint("voting", __name__, template_folder="templates")
VOTE_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
"""The ids the engine issues (UUIDs): anything else is not found, before any query."""

menu_entry("site.voting.index", _l("Votes"), 20)


@links_to({"cast_ballot": _l("Vote: cast your ballot"), "vote_opened": _l("A vote opened"),
           "vote_closed": _l("A vote closed: its result")})
def vote_link(item: Any) -> str:
    return url_for("site.voting.vote", vote_id=item.refs["vote_id"])


RECEIPT_REFUSALS = {
    casting.REPLACED: _l("This receipt was replaced by a later ballot. Enter the receipt of your latest ballot."),
    casting.NOT_YOURS: _l("This is not the receipt of your latest ballot. Enter the receipt you were given last."),
    "that receipt is not the one of a ballot in this vote (only the latest receipt counts)":
        _l("No ballot of this vote has this receipt. Check that you copied it whole, and that it is your latest one."),
    "you have already voted; to change your ballot, send the receipt of your last ballot":
        _l("Enter the receipt of your last ballot to change it."),
}
"""The engine's refusals about a receipt, said on the receipt's field."""


# ---- reading ---------------------------------------------------------------------------------


def _vote(vote_id: str) -> Vote:
    """The vote of my community, or 404 (another community's, an id the engine never issues)."""
    if not VOTE_ID.fullmatch(vote_id):
        raise NotFound()
    return voting_queries.get_vote(reader(), me(), vote_id)


def _is_open(vote: Vote) -> bool:
    return vote.status == "open" and now() < vote.deadline


@blp.route("/votes")
@member_required
def index() -> ResponseReturnValue:
    session = reader()
    votes = paginate(session, voting_queries.votes_in_community(me()), 1, MAX_PAGE_SIZE).items
    open_votes = [(vote, voting_queries.my_participation(session, me(), vote)) for vote in votes if _is_open(vote)]
    awaiting = [v for v in votes if v.status == "open" and not _is_open(v)]
    closed = [v for v in votes if v.status != "open"]
    return page("voting/index.html", open_votes=open_votes, awaiting=awaiting, closed=closed, outcomes=ballots.OUTCOMES)


@blp.route("/votes/<vote_id>")
@member_required
def vote(vote_id: str) -> ResponseReturnValue:
    found = _vote(vote_id)
    if booth.is_encrypted(found):
        return booth.booth_page(found)
    return _vote_page(found, BallotForm(formdata=None), None)


def _vote_page(vote: Vote, form: BallotForm, choice: Any, status: int = 200, check: ReceiptCheckForm | None = None,
               checked: dict[str, Any] | None = None) -> ResponseReturnValue:
    session = reader()
    mine = voting_queries.my_participation(session, me(), vote)
    result = voting_queries.result(vote) if vote.status == "closed" else None
    name = explanation.namer(ballots.labels(vote))
    return page("voting/vote.html", status, vote=vote, mine=mine, form=form, open=_is_open(vote),
                turnout=voting_queries.turnout(session, vote), result=result, selected=ballots.selected(vote, choice),
                check=check or ReceiptCheckForm(formdata=None), checked=checked, name=name,
                sentences=explanation.explained(result, name) if result else [],
                drawn=explanation.lots(result) if result else [], **_words(vote))


def _words(vote: Vote) -> dict[str, Any]:
    return {"method_words": ballots.METHODS.get(vote.method, vote.method), "rule_lines": ballots.rule_lines(vote),
            "answers": ballots.ANSWERS, "short_answers": ballots.SHORT_ANSWERS, "outcomes": ballots.OUTCOMES,
            "labels": ballots.labels(vote), "ordinal": ballots.ordinal, "choice_lines": ballots.choice_lines,
            "ranked": vote.method in ("irv", "schulze")}


@blp.route("/votes/<vote_id>/turnout")
@member_required
def turnout(vote_id: str) -> ResponseReturnValue:
    """The live turnout as ``GET /api/votes/<id>/turnout`` gives it (counts only), for the page's script."""
    found = _vote(vote_id)
    return jsonify(voting_queries.turnout(reader(), found))


# ---- a ballot: review, confirm, cast ----------------------------------------------------------


@blp.route("/votes/<vote_id>/ballot", methods=["POST"])
@member_required
def ballot(vote_id: str) -> ResponseReturnValue:
    """The ballot form's one endpoint: ``review`` shows the confirmation page, ``change`` brings the ballot back to
    the vote page as chosen, ``cast`` casts it."""
    found = _vote(vote_id)
    form = BallotForm()
    step = request.form.get("step", "review")
    read = ballots.read_choice(found, request.form)
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            raise form_expired()
        return _vote_page(found, form, read.choice, 422)
    if step == "change":
        return _vote_page(found, form, read.choice)
    mine = voting_queries.my_participation(reader(), me(), found)
    if read.error is not None:
        form.choice.errors = [read.error]
    receipt = (form.receipt.data or "").strip() or None
    if step != "cast" and mine["voted"] and found.secret and receipt is None:  # a cast sent twice is the engine's to replay
        form.receipt.errors = [_("Enter the receipt of your last ballot to change it.")]
    if form.errors:
        return _vote_page(found, form, read.choice, 422)
    if step == "cast":
        return _cast(found, form, read.choice, receipt)
    return page("voting/confirm.html", vote=found, mine=mine, choice=read.choice, receipt=receipt,
                fields=ballots.form_fields(found, read.choice), unranked=ballots.unranked(found, read.choice),
                idempotency_key=str(uuid.uuid4()), **_words(found))


def form_expired() -> Exception:
    """The CSRF token is missing or wrong: the site's 400 page, as for every form."""
    return CSRFError()


def _cast(vote: Vote, form: BallotForm, choice: Any, receipt: str | None) -> ResponseReturnValue:
    key = form.idempotency_key.data or None
    if key is None:
        form.form_errors.append(_("This page has expired: check your ballot and confirm it again."))
        return _vote_page(vote, form, choice, 422)
    try:
        given = engine().execute(CastBallot(vote.id, choice, key, receipt), me())
    except YishiError as refusal:
        return _refused(vote, form, choice, refusal)
    return page("voting/receipt.html", vote=vote, receipt=given)


def _refused(vote: Vote, form: BallotForm, choice: Any, refusal: YishiError) -> ResponseReturnValue:
    """An engine refusal on the form: a receipt's on the receipt field, a choice's on the choice, the rest above it."""
    if refusal.message in RECEIPT_REFUSALS or isinstance(refusal, casting.ReceiptSpent):
        form.receipt.errors = [str(RECEIPT_REFUSALS.get(refusal.message, RECEIPT_REFUSALS[casting.REPLACED]))]
        return _vote_page(vote, form, choice, 422)
    if isinstance(refusal, InvalidInput):
        form.choice.errors = [_("Choose among the answers listed.")]
        return _vote_page(vote, form, choice, 422)
    if refusal.message == "the vote is closed":
        form.form_errors.append(_("This vote is closed: no ballot can be cast or changed any more."))
    elif isinstance(refusal, PermissionDenied):
        form.form_errors.append(_("You are not in this vote's electorate, so you cannot cast a ballot."))
    elif refusal.message == casting.KEY_USED or "idempotency key" in refusal.message:
        form.form_errors.append(_("This page has expired: check your ballot and confirm it again."))
    else:
        form.form_errors.append(translated(refusal.message))
    return _vote_page(vote, form, choice, 403 if isinstance(refusal, PermissionDenied) else 409 if isinstance(refusal, Conflict) else 422)


# ---- after the close: the board, checking a receipt ---------------------------------------------


@blp.route("/votes/<vote_id>/receipt", methods=["POST"])
@member_required
def check_receipt(vote_id: str) -> ResponseReturnValue:
    """``POST /api/votes/<id>/receipts/check``: is the ballot behind a receipt counted (its choice after the close)?"""
    found = _vote(vote_id)
    check = ReceiptCheckForm()
    if not check.validate_on_submit():
        if check.csrf_token.errors:
            raise form_expired()
        return _vote_page(found, BallotForm(formdata=None), None, 422, check=check)
    checked = voting_queries.check_receipt(reader(), found, (check.check_receipt.data or "").strip())
    if not checked["found"]:
        check.check_receipt.errors = [_("No ballot of this vote has this receipt. Check that you copied it whole.")]
        return _vote_page(found, BallotForm(formdata=None), None, 422, check=check)
    return _vote_page(found, BallotForm(formdata=None), None, check=ReceiptCheckForm(formdata=None), checked=checked)


@blp.route("/votes/<vote_id>/board")
@member_required
def board(vote_id: str) -> ResponseReturnValue:
    """The bulletin board, as ``GET /api/votes/<id>/board`` gives it: every counted ballot, no identity."""
    found = _vote(vote_id)
    if booth.is_encrypted(found):
        return booth.board(found)
    document = voting_queries.bulletin_board(reader(), found)
    return page("voting/board.html", vote=found, board=document, **_words(found))


@blp.route("/votes/<vote_id>/board.json")
@member_required
def board_json(vote_id: str) -> ResponseReturnValue:
    """The same JSON as ``GET /api/votes/<id>/board``, to save and recount offline (``yishi tally --verify``)."""
    found = _vote(vote_id)
    document = voting_queries.bulletin_board(reader(), found)
    return Response(current_app.json.dumps(document) + "\n", mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="board-{found.id}.json"'})


# ---- an encrypted vote: the booth (web/voting/booth.py) ------------------------------------------


def _encrypted(vote_id: str) -> Vote:
    """An encrypted vote of my community, or 404 (the booth's routes mean nothing for another vote)."""
    found = _vote(vote_id)
    if not booth.is_encrypted(found):
        raise NotFound()
    return found


@blp.route("/votes/<vote_id>/credential", methods=["POST"])
@member_required
def register_credential(vote_id: str) -> ResponseReturnValue:
    """``POST /api/votes/<id>/credentials``: the public key of the voting key the booth made on the device."""
    return booth.register(_encrypted(vote_id))


@blp.route("/votes/<vote_id>/encrypted-ballot", methods=["POST"])
@member_required
def cast_encrypted(vote_id: str) -> ResponseReturnValue:
    """``POST /api/votes/<id>/encrypted-ballots``: the ballot the booth encrypted; the tracker shown once."""
    return booth.cast(_encrypted(vote_id))


@blp.route("/votes/<vote_id>/audited-ballot", methods=["POST"])
@member_required
def audit_ballot(vote_id: str) -> ResponseReturnValue:
    """``POST /api/votes/<id>/audited-ballots``: the tracker of the ballot the resident audits instead of casting."""
    return booth.audit(_encrypted(vote_id))


@blp.route("/votes/<vote_id>/trackers")
@member_required
def find_tracker(vote_id: str) -> ResponseReturnValue:
    """``GET /api/votes/<id>/trackers/<tracker>``: counted, replaced, audited or not found."""
    return booth.find(_encrypted(vote_id))


@blp.route("/votes/<vote_id>/encrypted-board.json")
@member_required
def encrypted_board_json(vote_id: str) -> ResponseReturnValue:
    """The same JSON as ``GET /api/votes/<id>/encrypted-board``, to check offline (``yishi tally --verify``)."""
    return booth.board_json(_encrypted(vote_id))
