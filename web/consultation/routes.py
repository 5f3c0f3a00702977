"""Consultations (协商): the topic, who is affected and the deadline; a resident gives, edits and withdraws opinions and reads the committee's answer to each; the committee answers them; the minutes and the outcome.

``/consultations`` lists the community's consultations (``GET /api/instances?definition_key=consultation``);
``/consultations/<id>`` shows one (``GET /api/instances/<id>`` and ``GET /api/instances/<id>/opinions``: a resident
sees their own opinions, the committee and auditors all). The forms send the API's commands: ``SubmitOpinion``,
``EditOpinion``, ``WithdrawOpinion`` and ``AnswerOpinion``. The committee's task forms (draft the topic, close the
period early, record the meeting, publish the outcome) are the desk's (``web/desk``); this page links to them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

from engine.consultation import opinions
from engine.consultation.commands import AnswerOpinion, EditOpinion, SubmitOpinion, WithdrawOpinion
from engine.consultation.models import Opinion
from engine.kernel import queries
from engine.kernel.errors import Conflict, InvalidInput, NotFound
from engine.kernel.instances import get_instance
from engine.kernel.models import Instance
from web.consultation.forms import AnswerForm, OpinionForm, verdict_label
from web.consultation.reading import KEY, PHASES, collecting, deadline_of, open_tasks, phase_of, task_label, text_list
from web.forms import ActionForm, show_errors
from web.i18n import translated
from web.links import links_to, menu_entry
from web.views import engine, me, member_required, page, reader

blp = Blueprint("consultation", __name__, template_folder="templates")
LIST_SIZE = 50
"""Consultations per page of the list (the API's pages hold at most 100)."""
REFUSALS = {
    "the opinion period is not open": _l("The opinion period is closed: opinions can no longer be given."),
    "the opinion period is closed": _l("The opinion period is closed: opinions can no longer be changed or withdrawn."),
    "the opinion was withdrawn": _l("This opinion was withdrawn: it can no longer be changed."),
    "opinions can be answered only while the answering task is open":
        _l("Opinions can be answered only while the committee's answering task is open."),
    "a withdrawn opinion needs no answer": _l("This opinion was withdrawn by its author: it needs no answer."),
}
"""The engine's refusals of a consultation's commands, as the pages say them."""

menu_entry("site.consultation.index", _l("Consultations"), 10)


@links_to({"give_opinion": _l("Consultation: give your opinion"),
           "opinion_period_opened": _l("A consultation is open for opinions"),
           "opinion_answered": _l("Your opinion was answered")})
def consultation_link(item: Any) -> str:
    """The consultation's page, at the answered opinion when the item names one."""
    opinion_id = (getattr(item, "refs", None) or {}).get("opinion_id")
    anchor = f"opinion-{opinion_id}" if opinion_id else None
    return url_for("site.consultation.show", instance_id=item.instance_id, _anchor=anchor)


@blp.route("/consultations")
@member_required
def index() -> ResponseReturnValue:
    number = request.args.get("page", "1")
    number = int(number) if number.isdigit() and 0 < len(number) < 7 else 1
    found = queries.instances(reader(), me(), number, LIST_SIZE, key=KEY)
    committee = me().has("committee")
    shown = [(instance, phase_of(instance)) for instance in found.items]
    current = [(instance, phase, deadline_of(instance)) for instance, phase in shown
               if phase.code != "published" and (committee or phase.code != "drafting")]
    finished = [instance for instance, phase in shown if phase.code == "published"]
    return page("consultation/index.html", current=current, finished=finished, number=number,
                more=found.total > number * LIST_SIZE)


@blp.route("/consultations/<instance_id>")
@member_required
def show(instance_id: str) -> ResponseReturnValue:
    return _show(_consultation(instance_id))


@blp.route("/consultations/<instance_id>/opinions", methods=["POST"])
@member_required
def give(instance_id: str) -> ResponseReturnValue:
    instance = _consultation(instance_id)
    form = OpinionForm()
    if not form.validate_on_submit():
        return _forged(form) or _show(instance, 422, give_form=form)
    try:
        opinion = engine().execute(SubmitOpinion(instance.id, form.text.data or ""), me())
    except InvalidInput as refusal:
        show_errors(form, refusal)
        return _show(instance, 422, give_form=form)
    except Conflict as refusal:
        form.form_errors.append(_refusal(refusal))
        return _show(_consultation(instance_id), 409, give_form=form)
    return redirect(url_for(".show", instance_id=instance.id, given=opinion.id, _anchor=f"opinion-{opinion.id}"), 303)


@blp.route("/opinions/<int:opinion_id>/edit", methods=["GET", "POST"])
@member_required
def edit(opinion_id: int) -> ResponseReturnValue:
    opinion, instance = _my_opinion(opinion_id)
    form = OpinionForm(data={"text": opinion.text})
    if request.method == "GET":
        return _edit_page(opinion, instance, form)
    if not form.validate_on_submit():
        return _forged(form) or _edit_page(opinion, instance, form, 422)
    try:
        engine().execute(EditOpinion(opinion.id, form.text.data or ""), me())
    except InvalidInput as refusal:
        show_errors(form, refusal)
        return _edit_page(opinion, instance, form, 422)
    except Conflict as refusal:
        form.form_errors.append(_refusal(refusal))
        return _edit_page(opinion, instance, form, 409)
    return redirect(url_for(".show", instance_id=instance.id, edited=opinion.id, _anchor=f"opinion-{opinion.id}"), 303)


@blp.route("/opinions/<int:opinion_id>/withdraw", methods=["GET", "POST"])
@member_required
def withdraw(opinion_id: int) -> ResponseReturnValue:
    opinion, instance = _my_opinion(opinion_id)
    form = ActionForm()
    if request.method == "GET":
        return _withdraw_page(opinion, instance, form)
    if not form.validate_on_submit():
        return _forged(form) or _withdraw_page(opinion, instance, form, 422)
    try:
        engine().execute(WithdrawOpinion(opinion.id), me())
    except Conflict as refusal:
        form.form_errors.append(_refusal(refusal))
        return _withdraw_page(opinion, instance, form, 409)
    return redirect(url_for(".show", instance_id=instance.id, withdrawn=opinion.id), 303)


@blp.route("/opinions/<int:opinion_id>/answer", methods=["POST"])
@member_required
def answer(opinion_id: int) -> ResponseReturnValue:
    opinion = opinions.get_opinion(reader(), me(), opinion_id)
    instance = _consultation(opinion.instance_id)
    me().require("committee")
    form = AnswerForm().for_opinion(opinion.id)
    if not form.validate_on_submit():
        return _forged(form) or _show(instance, 422, answer_forms={opinion.id: form})
    try:
        engine().execute(AnswerOpinion(opinion.id, form.verdict.data or "", form.reason.data or ""), me())
    except InvalidInput as refusal:
        show_errors(form, refusal)
        return _show(instance, 422, answer_forms={opinion.id: form})
    except Conflict as refusal:
        form.form_errors.append(_refusal(refusal))
        return _show(_consultation(instance.id), 409, answer_forms={opinion.id: form})
    return redirect(url_for(".show", instance_id=instance.id, answered=opinion.id, _anchor=f"opinion-{opinion.id}"), 303)


def _consultation(instance_id: str) -> Instance:
    """A consultation of the caller's community; anything else (another process, another community's) is not found."""
    instance = get_instance(reader(), me(), instance_id)
    if instance.definition.key != KEY:
        raise NotFound("consultation not found")
    return instance


def _my_opinion(opinion_id: int) -> tuple[Opinion, Instance]:
    """One of the caller's own opinions and its consultation: another's is not theirs to change."""
    opinion = opinions.get_opinion(reader(), me(), opinion_id)
    if opinion.author_id != me().member_id:
        abort(403)
    return opinion, _consultation(opinion.instance_id)


def _forged(form: Any) -> ResponseReturnValue | None:
    """The page for a form sent without its valid CSRF token (a forger's, or one kept open too long): refused."""
    if form.csrf_token.errors:
        return page("error.html", 400, status=400, kind="csrf")
    return None


def _refusal(refusal: Conflict) -> str:
    known = REFUSALS.get(refusal.message)
    return str(known) if known is not None else translated(refusal.message)


def _show(instance: Instance, status: int = 200, *, give_form: OpinionForm | None = None,
          answer_forms: dict[int, AnswerForm] | None = None) -> ResponseReturnValue:
    actor = me()
    session = reader()
    visible = list(session.scalars(opinions.visible_opinions(session, actor, instance.id)))
    mine = [opinion for opinion in visible if opinion.author_id == actor.member_id]
    reads_all = bool(actor.roles & opinions.READ_ALL_ROLES)
    answering = collecting(instance, "opinion_answers")
    forms = dict(answer_forms or {})
    if answering and actor.has("committee"):
        for opinion in visible:
            if opinion.status == "submitted" and opinion.id not in forms:
                data = {"verdict": opinion.answer_verdict, "reason": opinion.answer_reason}
                forms[opinion.id] = AnswerForm(formdata=None, data=data).for_opinion(opinion.id)
    phase = phase_of(instance)
    data = instance.data or {}
    return page(
        "consultation/show.html", status, instance=instance, data=data, phase=phase, phases=PHASES,
        until=deadline_of(instance), collecting_opinions=collecting(instance, "opinions"), answering=answering,
        give_form=give_form or OpinionForm(formdata=None), mine=mine, everyone=visible if reads_all else [],
        unanswered=sum(1 for opinion in visible if opinion.status == "submitted" and opinion.answer_verdict is None),
        answer_forms=forms, attendees=text_list(data.get("attendees")), decisions=text_list(data.get("decisions")),
        tasks=[(task_label(task), _task_link(task.id)) for task in open_tasks(instance) if task.lane is None or actor.has(task.lane)],
        verdict_label=verdict_label, done=_done(),
    )


def _done() -> Any:
    """What the last form did, to say so at the top of the page (the redirect after a form names it)."""
    for what, message in (("given", _l("Your opinion was sent. You can change or withdraw it until the deadline.")),
                          ("edited", _l("Your opinion was changed.")), ("withdrawn", _l("Your opinion was withdrawn.")),
                          ("answered", _l("The answer was saved."))):
        if request.args.get(what):
            return message
    return None


def _task_link(task_id: str) -> str | None:
    """The committee desk's page for a task, where the desk has one."""
    try:
        return url_for("site.desk.task", task_id=task_id)
    except BuildError:
        return None


def _edit_page(opinion: Opinion, instance: Instance, form: OpinionForm, status: int = 200) -> ResponseReturnValue:
    return page("consultation/edit.html", status, opinion=opinion, instance=instance, data=instance.data or {}, form=form,
                open=collecting(instance, "opinions"), until=deadline_of(instance))


def _withdraw_page(opinion: Opinion, instance: Instance, form: ActionForm, status: int = 200) -> ResponseReturnValue:
    return page("consultation/withdraw.html", status, opinion=opinion, instance=instance, data=instance.data or {},
                form=form, open=collecting(instance, "opinions"))
