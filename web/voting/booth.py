"""The encrypting ballot booth (docs/ballot-encryption.md §5, §6): an encrypted vote's page, its credential, casting an
encrypted ballot or auditing it (Benaloh), finding a tracker, and the encrypted board.

The crypto runs in the resident's browser (``web/static/js/booth/booth.js`` over the booth modules); these views only
carry what the JSON API carries, through the same engine commands and read queries: ``RegisterCredential`` (as ``POST
/api/votes/<id>/credentials``), ``CastEncryptedBallot`` (``POST …/encrypted-ballots``), ``AuditBallot`` (``POST
…/audited-ballots``), ``ceremony.my_credential`` (``GET …/credentials/mine``), ``ceremony.find_tracker`` (``GET
…/trackers/<tracker>``), ``ceremony.ceremony_state`` (``GET …/ceremony``) and ``ceremony.encrypted_board`` (``GET
…/encrypted-board``). The credential's secret and a ballot's randomness never reach the server: the audit route gets
the tracker alone, and the page opens the audited ballot itself.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError

from engine.identity.members import get_member
from engine.kernel.errors import Conflict, InvalidInput, PermissionDenied, YishiError
from engine.voting import ceremony, queries as voting_queries
from engine.voting.commands import AuditBallot, CastEncryptedBallot, RegisterCredential
from engine.voting.models import Vote
from web.i18n import translated
from web.views import engine, me, member_required, now, page, reader
from web.voting import ballots, explanation
from web.voting.forms import AuditForm, BallotForm, CredentialForm, EncryptedBallotForm, TrackerForm

ENCRYPTED = "encrypted"
REFUSALS = {
    "the vote is closed": _l("This vote is closed: no ballot can be cast or changed any more."),
    "register your credential for this vote first": _l("Get your voting key first."),
    "this ballot was audited: it can never be cast; encrypt your choice again":
        _l("This ballot was audited, so it can never be cast. Encrypt your choice again, then cast the new ballot."),
    "this ballot was cast: it cannot be audited (its opening would show how it votes)":
        _l("This ballot was cast already, so it cannot be audited."),
    "a credential is registered for you (or your household) in this vote already":
        _l("A voting key is registered for you (or your household) already. Type in the voting key you wrote down."),
    ceremony.CREDENTIAL_USED:
        _l("A ballot was cast for you (or your household) already, so your voting key cannot be replaced. Type in the "
           "voting key you wrote down, or ask a teller at the committee office."),
    "your voting key was replaced: this ballot was made under the old one; encrypt your choice again":
        _l("Your voting key was replaced, on this device or another. Reload the page, type in your new voting key, "
           "then encrypt your choice again."),
    f"you have audited {ceremony.MAX_AUDITS} ballots in this vote, the most one voter may: cast your ballot":
        _l("You have audited %(count)s ballots, as many as one voter may in this vote. Cast your ballot now.",
           count=ceremony.MAX_AUDITS),
}
"""The engine's refusals a resident can meet in the booth, said in the booth's words."""


def is_encrypted(vote: Vote) -> bool:
    return vote.secrecy == ENCRYPTED


def _said(refusal: YishiError) -> str:
    if refusal.message in REFUSALS:
        return str(REFUSALS[refusal.message])
    if isinstance(refusal, PermissionDenied):
        return _("You are not in this vote's electorate, so you cannot cast a ballot.")
    if isinstance(refusal, InvalidInput):
        return _("Your device made a ballot the server cannot accept. Reload the page and encrypt your choice again.")
    return translated(refusal.message)


def _status(refusal: YishiError) -> int:
    return 403 if isinstance(refusal, PermissionDenied) else 409 if isinstance(refusal, Conflict) else 422


# ---- the booth page --------------------------------------------------------------------------


def booth_page(vote: Vote, status: int = 200, *, credential_form: CredentialForm | None = None,
               ballot_form: EncryptedBallotForm | None = None) -> ResponseReturnValue:
    """An encrypted vote's page in every state: keying (the trustees make the key), open (the booth), closed and
    decrypting (waiting for the trustees), decided (the result, its guarantee, the board)."""
    session = reader()
    state = ceremony.ceremony_state(session, me(), vote.id)
    mine = voting_queries.my_participation(session, me(), vote)
    registered = ceremony.my_credential(session, me(), vote.id) if mine["eligible"] else None
    credential = registered["credential"] if registered else None
    result = voting_queries.result(vote) if vote.status == "closed" else None
    name = explanation.namer(ballots.labels(vote))
    shown = (mine["eligible"] and not (mine["voted"] and mine["channel"] == "paper")
             and state["state"] in ("keying", "open") and vote.status in ("keying", "open"))
    return page("voting/booth.html", status, vote=vote, state=state, mine=mine, credential=credential, booth_shown=shown,
                replaceable=bool(registered and registered["replaceable"]), ceremony_words=_ceremony_words(state),
                member_id=me().member_id, choice_form=BallotForm(formdata=None),
                open=state["state"] == "open" and vote.status == "open" and now() < vote.deadline,
                trustees=_trustees(state), turnout=voting_queries.turnout(session, vote), result=result,
                credential_form=credential_form or CredentialForm(formdata=None),
                ballot_form=ballot_form or EncryptedBallotForm(formdata=None), audit_form=AuditForm(formdata=None),
                tracker_form=TrackerForm(formdata=None, meta={"csrf": False}), name=name,
                sentences=explanation.explained(result, name) if result else [],
                drawn=explanation.lots(result) if result else [], **words(vote))


def words(vote: Vote) -> dict[str, Any]:
    return {"method_words": ballots.METHODS.get(vote.method, vote.method), "rule_lines": ballots.rule_lines(vote),
            "answers": ballots.ANSWERS, "short_answers": ballots.SHORT_ANSWERS, "outcomes": ballots.OUTCOMES,
            "labels": ballots.labels(vote), "ordinal": ballots.ordinal, "choice_lines": ballots.choice_lines,
            "ranked": False, "selected": {}}


def _ceremony_words(state: dict[str, Any]) -> dict[str, Any]:
    """The key generation's round, who was disqualified and why, and a failure's numbers (``GET …/ceremony``'s
    ``round``, ``disqualifications`` and ``failure``), named for residents."""
    names = {t["number"]: get_member(reader(), me(), t["member_id"]).name for t in state["trustees"]}
    return {"round": state["round"] + 1,
            "disqualified": [{"name": names[d["dealer"]], "round": d["round"] + 1, "unanswered": d["reason"] == "no_answer"}
                             for d in state["disqualifications"]],
            "failure": state["failure"]}


def _trustees(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Each trustee's number and name, and what they have published (public, as ``GET …/ceremony`` says)."""
    session = reader()
    dealt = {d["trustee"] for d in state["dealings"]}
    keyed = {s["trustee"] for s in state["key_shares"]}
    decrypted = {p["trustee"] for p in state["decryptions"]}
    return [{"number": t["number"], "name": get_member(session, me(), t["member_id"]).name,
             "dealt": t["number"] in dealt, "keyed": t["number"] in keyed, "decrypted": t["number"] in decrypted,
             "disqualified": t["number"] in state["disqualified"]}
            for t in state["trustees"]]


# ---- the credential, casting, auditing -------------------------------------------------------------


def register(vote: Vote) -> ResponseReturnValue:
    form = CredentialForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            raise CSRFError()
        return booth_page(vote, 422, credential_form=form)
    try:
        engine().execute(RegisterCredential(vote.id, form.credential.data, form.replace.data), me())
    except YishiError as refusal:
        form.form_errors.append(_said(refusal))
        return booth_page(vote, _status(refusal), credential_form=form)
    return redirect(url_for("site.voting.vote", vote_id=vote.id, _anchor="booth"), 303)


def cast(vote: Vote) -> ResponseReturnValue:
    """The encrypted ballot the booth made, as JSON in a form field; its tracker shown once in answer."""
    form = EncryptedBallotForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            raise CSRFError()
        return booth_page(vote, 422, ballot_form=form)
    try:
        ballot = json.loads(form.ballot.data)
    except ValueError:
        ballot = None
    if not isinstance(ballot, dict):
        form.ballot.errors = [_("This is not a ballot your device made. Reload the page and encrypt your choice again.")]
        return booth_page(vote, 422, ballot_form=form)
    try:
        cast = engine().execute(CastEncryptedBallot(vote.id, ballot), me())
    except YishiError as refusal:
        form.form_errors.append(_said(refusal))
        return booth_page(vote, _status(refusal), ballot_form=form)
    return page("voting/booth_cast.html", vote=vote, cast=cast)


def audit(vote: Vote) -> ResponseReturnValue:
    """The booth's fetch: the tracker of the ballot the resident audits (JSON in answer: the page opens it itself)."""
    form = AuditForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            raise CSRFError()
        return jsonify({"error": " ".join(str(e) for e in form.tracker.errors)}), 422
    try:
        audited = engine().execute(AuditBallot(vote.id, form.tracker.data), me())
    except YishiError as refusal:
        return jsonify({"error": _said(refusal)}), _status(refusal)
    return jsonify({"vote_id": audited.vote_id, "tracker": audited.tracker}), 201


# ---- finding a tracker, the encrypted board ----------------------------------------------------------


def find(vote: Vote) -> ResponseReturnValue:
    """``GET …/trackers/<tracker>`` as a page: the form, and where the tracker stands once one is given."""
    form = TrackerForm(request.args, meta={"csrf": False})
    ceremony.ceremony_state(reader(), me(), vote.id)  # 409 for a vote whose ballots are not encrypted
    if "tracker" not in request.args:
        return page("voting/tracker.html", vote=vote, form=TrackerForm(formdata=None, meta={"csrf": False}), found=None)
    if not form.validate():
        return page("voting/tracker.html", 422, vote=vote, form=form, found=None)
    found = ceremony.find_tracker(reader(), me(), vote.id, form.tracker.data)
    return page("voting/tracker.html", vote=vote, form=form, found=found)


def board(vote: Vote) -> ResponseReturnValue:
    document = ceremony.encrypted_board(reader(), vote)
    counted = [b["tracker"] for b in document["ballots"] if not b["replaced"]]
    replaced = [b["tracker"] for b in document["ballots"] if b["replaced"]]
    state = ceremony.ceremony_state(reader(), me(), vote.id)
    return page("voting/encrypted_board.html", vote=vote, board=document, counted=counted, replaced=replaced,
                audited=document["audited"], trustees=_trustees(state),
                tracker_form=TrackerForm(formdata=None, meta={"csrf": False}), **words(vote))


def board_json(vote: Vote) -> ResponseReturnValue:
    document = ceremony.encrypted_board(reader(), vote)
    return Response(current_app.json.dumps(document) + "\n", mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="encrypted-board-{vote.id}.json"'})
