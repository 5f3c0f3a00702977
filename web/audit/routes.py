"""The auditor's view (Camunda Operate's spirit, for people who are not engineers): read everything, verify, change nothing.

Who sees it is the engine's rule (``engine.audit.access``): auditors, admins and the committee check the history
(time travel, verification); a full bundle is for auditors and admins only; a resident gets 403 on every page here.

- ``/audit``: the community at a glance — instances by definition and status, votes and their results, PDCA series,
  the signed checkpoints (``GET /api/audit/checkpoints``), the deployment's public key, bundle downloads (the same
  JSON as ``GET /api/audit/bundle``), and the Verify button (``POST /api/audit/verify``).
- ``/audit/instances/<id>?as_of=N``: the instance as it was right after its event N — the executed path
  (``GET /api/instances/<id>/path?as_of=N``, ``engine.audit.path``) as a table and, with script, drawn on the BPMN
  diagram (bpmn-js, ``web/static/js/audit.js``); a stepper over its events; the timeline with each event's hash link
  (``GET /api/instances/<id>/chain``, ``/events``).
- ``POST /audit/verify``: every check of the stored history, the community's or one instance's, and the first
  problem located.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from wtforms import HiddenField

from engine.audit import access, path
from engine.bpmn.lanes import Lane, lanes as diagram_lanes
from engine.bpmn.xml import read_xml
from engine.kernel import queries
from engine.kernel.errors import NotFound
from engine.kernel.instances import get_instance
from engine.kernel.queries import paginate
from engine.pdca import queries as pdca_queries
from engine.voting import queries as voting_queries
from engine.webhooks.events import EVENT_TYPES
from web.forms import ActionForm
from web.i18n import translated
from web.links import menu_entry
from web.views import engine, me, member_required, now, page, reader

blp = Blueprint("audit", __name__, template_folder="templates")

AUDIT_ROLES = access.CHECKING_ROLES
"""Who sees these pages: whoever may verify and time-travel (``engine.audit.access``)."""
INSTANCE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAX_LISTED = 500
CHECKPOINTS_SHOWN = 20
CHECKS = ("definitions", "chain", "replay", "records", "recount", "checkpoints")

menu_entry("site.audit.index", _l("Audit"), 80, roles=AUDIT_ROLES)

CHECK_WORDS = {
    "definitions": _l("Process definitions are the ones deployed"),
    "chain": _l("Hash chain of every history"),
    "replay": _l("Replay gives the recorded states"),
    "records": _l("Records match what the history wrote"),
    "recount": _l("Vote results recount from their ballots"),
    "checkpoints": _l("Signed checkpoints hold"),
    "bundle": _l("The bundle can be read"),
}
COUNT_WORDS = {
    "definitions": _l("definitions"), "events": _l("events"), "replayed events": _l("replayed events"),
    "records": _l("records"), "recounts": _l("recounts"), "checkpoints": _l("checkpoints"),
    "ballot boxes": _l("ballot boxes"), "known checkpoints": _l("checkpoints kept by the auditor"),
}
STATUS_WORDS = {"running": _l("running"), "completed": _l("completed"), "error": _l("stopped by an error"),
                "cancelled": _l("cancelled"), "waiting": _l("waiting")}
STATE_WORDS = {"completed": _l("Completed"), "ready": _l("Open task"), "waiting": _l("Timer armed"),
               "error": _l("Failed"), path.NOT_REACHED: _l("Not reached")}
KIND_WORDS = {
    "startEvent": _l("Start of the process"), "endEvent": _l("End of the process"), "userTask": _l("Task for people"), "scriptTask": _l("Automatic step"),
    "serviceTask": _l("Service step"), "boundaryEvent": _l("Deadline or event"), "intermediateCatchEvent": _l("Wait"),
    "intermediateThrowEvent": _l("Signal"), "exclusiveGateway": _l("Decision"), "parallelGateway": _l("Split or join"),
    "inclusiveGateway": _l("Decision"), "eventBasedGateway": _l("Wait for the first event"), "callActivity": _l("Sub-process"),
    "subProcess": _l("Sub-process"), "manualTask": _l("Task for people"), "businessRuleTask": _l("Decision table"),
}
ROLE_WORDS = {"committee": _l("Residents' committee"), "resident": _l("Residents"), "auditor": _l("Auditors"),
              "admin": _l("Administrators"), "provider": _l("Service provider"), "street_office": _l("Street office")}
OUTCOMES = {"passed": _l("Passed"), "rejected": _l("Rejected"), "tie": _l("Tie"), "invalid": _l("Not valid")}
EVENT_WORDS = {
    "instance_started": _l("Process started"), "task_completed": _l("Task completed"),
    "timers_fired": _l("Deadline reached"), "message_delivered": _l("Message received"),
    "instance_retried": _l("Retried after an error"), "timers_failed": _l("Timers failed"),
    "ballot_cast": _l("Ballot cast"), "ballot_changed": _l("Ballot changed"),
    "paper_ballot_entered": _l("Paper ballot entered"), "paper_ballot_corrected": _l("Paper ballot corrected"),
    "opinion_submitted": _l("Opinion submitted"), "opinion_edited": _l("Opinion edited"),
    "opinion_withdrawn": _l("Opinion withdrawn"), "opinion_answered": _l("Opinion answered"),
    "amendment_proposed": _l("Amendment proposed"), "amendment_supported": _l("Amendment supported"),
    "amendment_withdrawn": _l("Amendment withdrawn"), "amendment_decided": _l("Amendment decided"),
    "comment_added": _l("Comment added"), "measurements_added": _l("Measurements added"),
    "service_records_added": _l("Service records added"), "service_rated": _l("Service rated"),
    "service_request_filed": _l("Service request filed"), "service_request_answered": _l("Service request answered"),
    "corrective_action_assigned": _l("Corrective action assigned"), "corrective_action_reported": _l("Corrective action reported"),
    "corrective_action_verified": _l("Corrective action verified"), "standard_tightened": _l("Standard tightened"),
    "series_end_requested": _l("End of the series requested"),
    "credential_registered": _l("Voting credential registered"), "ballot_audited": _l("Encrypted ballot audited"),
    "trustee_dealt": _l("Trustee's key part published"),
    "trustee_shares_sent": _l("Trustee's shares sent"), "trustee_complained": _l("Trustee's complaint"),
    "trustee_key_published": _l("Trustee's key share published"), "election_key_made": _l("Election key made"),
    "trustee_decrypted": _l("Trustee's decryption published"), "vote_decrypted": _l("Result decrypted"),
    "complaint_answered": _l("Trustee's complaint answered"), "trustee_disqualified": _l("Trustee disqualified"),
    "ceremony_restarted": _l("Key ceremony restarted"), "ceremony_failed": _l("Key ceremony failed"),
}
assert set(EVENT_WORDS) == set(EVENT_TYPES), "every event type the engine records has its words"


class VerifyForm(ActionForm):
    instance = HiddenField()


def _auditor() -> Any:
    """The signed-in member, if they may audit (the engine's roles); 403 otherwise."""
    actor = me()
    actor.require(*AUDIT_ROLES)
    return actor


def _instance(instance_id: str) -> Any:
    """An instance of my community, or 404 (another community's, or an id the engine never issues)."""
    if not INSTANCE_ID.fullmatch(instance_id):
        raise NotFound(_("There is no such process in this community."))
    return get_instance(reader(), me(), instance_id)


# ---- the community at a glance -----------------------------------------------------------------------------------


@blp.route("/audit")
@member_required
def index() -> ResponseReturnValue:
    session, actor = reader(), _auditor()
    listed = queries.instances(session, actor, 1, MAX_LISTED)
    counts: dict[str, dict[str, int]] = {}
    for instance in listed.items:
        by_status = counts.setdefault(instance.definition.key, {})
        by_status[instance.status] = by_status.get(instance.status, 0) + 1
    votes = paginate(session, voting_queries.votes_in_community(actor), 1, MAX_LISTED).items
    series = list(session.scalars(pdca_queries.series_query(actor).limit(MAX_LISTED)))
    checkpoints = access.list_checkpoints(session, actor, 1, CHECKPOINTS_SHOWN)
    try:
        key = access.public_key(engine().signer)
    except NotFound:
        key = None
    return page("audit/index.html", instances=listed, counts=counts, votes=votes, series=series, checkpoints=checkpoints,
                key=key, verify_form=VerifyForm(formdata=None), full=bool(set(actor.roles) & set(access.FULL_BUNDLE_ROLES)),
                **_words())


@blp.route("/audit/public-key.pem")
@member_required
def public_key() -> ResponseReturnValue:
    _auditor()
    key = access.public_key(engine().signer)
    return Response(key["public_pem"], mimetype="application/x-pem-file",
                    headers={"Content-Disposition": 'attachment; filename="yishi-audit-key.pem"'})


@blp.route("/audit/bundle")
@member_required
def bundle() -> ResponseReturnValue:
    """The same JSON as ``GET /api/audit/bundle``, as a file to save: public, or full (auditors and admins)."""
    actor = _auditor()
    public = request.args.get("public") == "1"
    instance_id = request.args.get("instance") or None
    if instance_id is not None:
        _instance(instance_id)
    document = access.export_bundle(reader(), actor, signer=engine().signer, now=now(), instance_id=instance_id, public=public)
    name = f"yishi-audit-{instance_id or f'community-{actor.community_id}'}-{'public' if public else 'full'}.json"
    return Response(json.dumps(document, ensure_ascii=False), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ---- one instance: its path as of any event, its timeline ------------------------------------------------------------


@blp.route("/audit/instances/<instance_id>")
@member_required
def instance(instance_id: str) -> ResponseReturnValue:
    actor = _auditor()
    session, found = reader(), _instance(instance_id)
    seq = _as_of(found.last_seq)
    shown = path.path_of(session, found, seq)
    history = queries.events(session, actor, found.id, 1, max(found.last_seq, 1))
    links = {link["seq"]: link for link in path.chain_links(session, actor, found.id)}
    names = {m.id: m.name for m in queries.members(session, actor, 1, 10_000).items}
    lanes = _legend(found.definition.source)
    return page("audit/instance.html", instance=found, shown=shown, seq=seq, history=history.items, links=links, names=names,
                lanes=lanes, verify_form=VerifyForm(formdata=None, instance=found.id), **_words())


@blp.route("/audit/instances/<instance_id>/diagram.bpmn")
@member_required
def diagram(instance_id: str) -> ResponseReturnValue:
    """The BPMN file of the instance's definition version (as ``GET /api/definitions/<key>/versions/<n>`` gives its
    source), for the page's viewer."""
    _auditor()
    found = _instance(instance_id)
    return Response(found.definition.source, mimetype="application/xml")


def _legend(source: str) -> list[Lane]:
    """The lanes of the definition version's diagram, top to bottom, each with its name as drawn and the role whose
    members act in it (the role it declares, or its name: ``engine.bpmn.lanes``), as the definition's source says
    (``GET /api/definitions/<key>/versions/<n>``)."""
    shown: dict[tuple[str | None, str], Lane] = {}
    for lane in diagram_lanes(read_xml(source.encode("utf-8"), "definition").getroot()):
        if lane.role is not None:
            shown.setdefault((lane.name, lane.role), lane)
    return list(shown.values())


def _as_of(last_seq: int) -> int:
    """The ``as_of`` asked for (the last event by default); anything but an event's seq is a 404."""
    asked = request.args.get("as_of")
    if asked is None or asked == "":
        return last_seq
    if not asked.isascii() or not asked.isdigit() or len(asked) > 10 or not 1 <= int(asked) <= last_seq:
        raise NotFound(_("This process has no such event: its events are numbered 1 to %(last)s.", last=last_seq))
    return int(asked)


# ---- verification -----------------------------------------------------------------------------------------------------


@blp.route("/audit/verify", methods=["POST"])
@member_required
def verify() -> ResponseReturnValue:
    actor = _auditor()
    form = VerifyForm()
    if not form.validate_on_submit():
        raise CSRFError()
    instance_id = form.instance.data or None
    found = _instance(instance_id) if instance_id else None
    verdict = access.verify_stored(reader(), actor, signer=engine().signer, now=now(), instance_id=instance_id)
    checks = [(check, [p for p in verdict.problems if p.check == check]) for check in CHECKS]
    checks += [(p.check, [p]) for p in verdict.problems if p.check not in CHECKS]
    return page("audit/verdict.html", verdict=verdict, checks=checks, instance=found, first=verdict.first,
                verify_form=VerifyForm(formdata=None, instance=instance_id or ""), **_words())


def _words() -> dict[str, Any]:
    return {"check_words": CHECK_WORDS, "count_words": COUNT_WORDS, "status_words": STATUS_WORDS, "state_words": STATE_WORDS,
            "kind_words": KIND_WORDS, "role_words": ROLE_WORDS, "outcomes": OUTCOMES, "event_words": EVENT_WORDS,
            "translated": translated, "moment_of": _moment_of}


def _moment_of(text: str) -> datetime | None:
    """A moment the engine gave as ISO 8601 text (a checkpoint's, a timer's), for the ``moment`` filter."""
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
