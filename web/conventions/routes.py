"""The community convention (社区公约): the adopted text, the draft under discussion article by article, the difference
between any two versions, amendments (propose, support, withdraw, comment) and each amendment's decision.

- ``/conventions``: the community's conventions, each with its text in force and its round in progress;
- ``/conventions/<id>``: the text in force and the round's draft article by article, each article with its amendments
  (and, while the committee reviews them, its decision forms) and comments;
- ``/conventions/<id>/articles/<article>/amend`` and ``…/comment``: propose an amendment, comment on an article;
- ``/conventions/<id>/amendments/<amendment>/support|withdraw|decision``: the buttons and the committee's decision;
- ``/conventions/<id>/diff?from=N&to=M``: what changed between two versions, inline or side by side, as the engine's
  diff computes it (character by character in Chinese); ``/history`` and ``/versions/<n>``.

Every page reads what ``GET /api/conventions/…`` reads, and every form sends the command its API route sends.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from babel.dates import format_skeleton
from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from flask_wtf import FlaskForm
from sqlalchemy import select

from engine.conventions import queries
from engine.conventions.commands import (
    CommentOnArticle, DecideAmendment, ProposeAmendment, SupportAmendment, WithdrawAmendment,
)
from engine.conventions.models import Amendment, ArticleComment, Convention, ConventionVersion, DraftingRound
from engine.identity.models import Member
from engine.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion, YishiError
from web.conventions.forms import AmendmentForm, CommentForm, DecisionForm, DiffForm
from web.forms import ActionForm, show_errors
from web.i18n import translated
from web.links import links_to, menu_entry
from web.views import engine, me, member_required, now, page, reader

blp = Blueprint("conventions", __name__, template_folder="templates")
DB_INT_MAX = 2**31 - 1
ARTICLE_ID = 20

menu_entry("site.conventions.index", _l("Convention"), 30)

ROUND_STATUS = {
    "amending": _l("Open for amendments"),
    "reviewing": _l("The committee is deciding the amendments"),
    "notice": _l("On public notice"),
    "voting": _l("Adoption vote"),
    "passed": _l("Adopted by the vote, to be published"),
    "adopted": _l("Adopted"),
    "rejected": _l("Not adopted by the vote"),
    "abandoned": _l("Drafting abandoned"),
}
CONVENTION_STATUS = {"drafting": _l("Being drafted"), "adopted": _l("In force"), "abandoned": _l("Abandoned")}
KIND = {"replace": _l("Change the article"), "insert": _l("Add an article after it"), "delete": _l("Delete the article")}
OUTCOME = {"accepted": _l("Accepted"), "accepted_with_changes": _l("Accepted with the committee's wording"),
           "rejected": _l("Not accepted")}
VERSION_KIND = {"draft": _l("The committee's draft"), "consolidated": _l("Amendments applied")}
VOTE_OUTCOME = {"passed": _l("passed"), "rejected": _l("not passed"), "tie": _l("tie"), "invalid": _l("invalid")}
DIFF_STATUS = {"added": _l("Added"), "removed": _l("Deleted"), "changed": _l("Changed"), "unchanged": _l("Unchanged")}
REFUSALS = {
    "an author supports their amendment by proposing it; support other residents' amendments":
        _l("This is your own amendment: proposing it already counts as your support. You can support other residents' "
           "amendments."),
    "you already support this amendment": _l("You already support this amendment."),
    "the amendment was withdrawn": _l("This amendment was withdrawn."),
    "the convention has no amendment period open": _l("Amendments are not open now."),
    "the amendment period of this amendment's round is over": _l("Amendments are not open now."),
}
"""The engine's refusals a resident meets most, in the pages' words (the rest as the catalogues translate them)."""
FIELD_MESSAGES = {
    "1 to 5000 characters": _l("Write 1 to 5000 characters"),
    "no change": _l("This is the article as it stands: change something, or choose another kind of amendment"),
    "not for deletions": _l("A deletion takes no new text: empty this box, or choose to change the article"),
    "only with accepted_with_changes": _l("Only when accepting with the committee's wording: empty this box, or choose that "
                                          "decision"),
}
"""The engine's field errors, reworded for the field they are shown beside."""


@links_to({"propose_amendment": _l("Convention: amendments are open"),
           "amendment_period_opened": _l("Convention: a round of amendments opened"),
           "amendment_decided": _l("Convention: your amendment was decided")})
def convention_link(item: Any) -> str:
    refs = item.refs
    anchor = f"amendment-{refs['amendment_id']}" if "amendment_id" in refs else None
    return url_for("site.conventions.show", convention_id=refs["convention_id"], _anchor=anchor)


# ---- what a page shows -----------------------------------------------------------------------

@dataclass
class Draft:
    """The round in progress: its text article by article, with each article's amendments and comments."""

    round: DraftingRound
    version: ConventionVersion
    positions: dict[str, int]
    amendments: dict[str | None, list[Amendment]]
    comments: dict[str, list[ArticleComment]]
    open_tasks: set[str]
    amending: bool
    deciding: bool
    count: int = 0


@dataclass
class ConventionPage:
    convention: Convention
    draft: Draft | None
    names: dict[int, str]
    decisions: dict[int, DecisionForm] = field(default_factory=dict)
    failed: int | None = None
    problem: str | None = None


def _bounded(number: int) -> int:
    if not 1 <= number <= DB_INT_MAX:
        raise NotFound("not found")
    return number


def _convention(convention_id: int) -> Convention:
    return queries.get_convention(reader(), me(), _bounded(convention_id))


def _open_tasks(drafting: DraftingRound) -> set[str]:
    return {task.element_id for task in drafting.instance.tasks if task.state == "READY"}


def _in_progress(convention: Convention) -> DraftingRound | None:
    drafting = convention.rounds[-1] if convention.rounds else None
    return drafting if drafting is not None and drafting.status not in ("adopted", "abandoned") else None


def _draft(convention: Convention) -> Draft | None:
    drafting = _in_progress(convention)
    if drafting is None:
        return None
    session, actor = reader(), me()
    version = queries.get_version(session, actor, convention.id, drafting.base_number)
    amendments = list(session.scalars(queries.amendments_of(session, actor, convention.id, drafting.number)))
    comments = list(session.scalars(queries.comments_of(session, actor, convention.id, drafting.number, None)))
    by_article: dict[str | None, list[Amendment]] = defaultdict(list)
    for amendment in amendments:
        by_article[amendment.after_id if amendment.kind == "insert" else amendment.article_id].append(amendment)
    by_comment: dict[str, list[ArticleComment]] = defaultdict(list)
    for note in comments:
        by_comment[note.article_id].append(note)
    tasks = _open_tasks(drafting)
    amending = drafting.status == "amending" and "amendment_period" in tasks and now() < drafting.amendment_deadline
    deciding = drafting.status == "reviewing" and "review_amendments" in tasks
    return Draft(drafting, version, {a["id"]: n for n, a in enumerate(version.articles, 1)}, by_article, by_comment, tasks,
                 amending, deciding, len(amendments))


def _names(ids: set[int | None]) -> dict[int, str]:
    """The names of the members who wrote or decided something on the page (every member of the community sees them,
    as ``GET /api/communities/<id>/members`` does)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = reader().execute(select(Member.id, Member.name).where(Member.community_id == me().community_id, Member.id.in_(wanted)))
    return {member_id: name for member_id, name in rows}


def _convention_page(convention: Convention, status: int = 200, *, failed: DecisionForm | None = None,
                     failed_id: int | None = None, problem: str | None = None) -> ResponseReturnValue:
    draft = _draft(convention)
    people: set[int | None] = set()
    decisions: dict[int, DecisionForm] = {}
    if draft is not None:
        for amendments in draft.amendments.values():
            for amendment in amendments:
                people |= {amendment.author_id, amendment.decided_by}
                if draft.deciding and me().has("committee") and amendment.status != "withdrawn":
                    decisions[amendment.id] = failed if failed is not None and failed_id == amendment.id else DecisionForm(
                        formdata=None, data={"outcome": amendment.outcome, "reason": amendment.decision_reason,
                                             "text": amendment.decision_text})
        people |= {note.author_id for notes in draft.comments.values() for note in notes}
    view = ConventionPage(convention, draft, _names(people), decisions, failed_id, problem)
    return page("conventions/show.html", status, view=view, **_labels())


def _labels() -> dict[str, Any]:
    return {"ROUND_STATUS": ROUND_STATUS, "CONVENTION_STATUS": CONVENTION_STATUS, "KIND": KIND, "OUTCOME": OUTCOME,
            "VERSION_KIND": VERSION_KIND, "VOTE_OUTCOME": VOTE_OUTCOME, "DIFF_STATUS": DIFF_STATUS, "changes_of": queries.proposed_changes,
            "decided_changes": queries.decided_changes, "on_day": on_day}


def on_day(value: date | None) -> str:
    """A calendar day (an effective date: no time, no zone) as the page's locale writes it."""
    return format_skeleton("yMMMEd", value, locale=get_locale()) if value is not None else ""


def _submitted(form: FlaskForm) -> bool:
    """Whether the form came back valid; a form without its CSRF token (a forger's, or an expired one) is refused."""
    valid = form.validate_on_submit()
    csrf = getattr(form, "csrf_token", None)
    if csrf is not None and csrf.errors:
        raise CSRFError(_("This form has expired."))
    return valid


def explain(refusal: YishiError) -> str:
    """An engine refusal in the page's language: the known ones reworded, the rest as the catalogue has them."""
    message = refusal.message
    if message.startswith("the amendment period closed at"):
        return _("The amendment period is over.")
    if "already accepted, changes article" in message:
        return _("Amendment #%(number)s, already accepted, changes this article too: reject one of them, or accept one "
                 "with wording that combines both.", number=refusal.details.get("amendment_id", "?"))
    return str(REFUSALS[message]) if message in REFUSALS else translated(message)


def _on_fields(form: FlaskForm, refusal: InvalidInput, fields: dict[str, str] | None = None) -> None:
    """The engine's field errors beside the form's fields, in the pages' words where they have some."""
    errors = [{**error, "message": str(FIELD_MESSAGES.get(str(error.get("message")), error.get("message")))}
              for error in refusal.details.get("errors", [])]
    show_errors(form, InvalidInput(refusal.message, errors=errors), fields)


# ---- pages -----------------------------------------------------------------------------------

@blp.route("/conventions")
@member_required
def index() -> ResponseReturnValue:
    conventions = list(reader().scalars(queries.conventions_of(me())))
    return page("conventions/index.html", conventions=[(c, _in_progress(c)) for c in conventions], **_labels())


@blp.route("/conventions/<int:convention_id>")
@member_required
def show(convention_id: int) -> ResponseReturnValue:
    return _convention_page(_convention(convention_id))


@blp.route("/conventions/<int:convention_id>/versions/<int:number>")
@member_required
def version(convention_id: int, number: int) -> ResponseReturnValue:
    convention = _convention(convention_id)
    text = queries.get_version(reader(), me(), convention.id, _bounded(number))
    return page("conventions/version.html", convention=convention, version=text, names=_names({text.created_by}), **_labels())


@blp.route("/conventions/<int:convention_id>/history")
@member_required
def history(convention_id: int) -> ResponseReturnValue:
    convention = _convention(convention_id)
    session = reader()
    versions = list(session.scalars(queries.versions_of(session, me(), convention.id)))
    rounds = queries.rounds_of(session, me(), convention.id)
    return page("conventions/history.html", convention=convention, versions=versions, rounds=rounds,
                names=_names({v.created_by for v in versions}), **_labels())


@blp.route("/conventions/<int:convention_id>/diff")
@member_required
def diff(convention_id: int) -> ResponseReturnValue:
    convention = _convention(convention_id)
    session = reader()
    versions = list(session.scalars(queries.versions_of(session, me(), convention.id)))
    numbers = [str(v.number) for v in versions]
    view = "side" if request.args.get("view") == "side" else "inline"
    defaults = {"from": numbers[-2] if len(numbers) > 1 else numbers[0], "to": numbers[-1]} if numbers else {}
    asked = request.args if "from" in request.args or "to" in request.args else None
    form = DiffForm(formdata=asked, data={"old": defaults.get("from"), "new": defaults.get("to")})
    choices = [(str(v.number), _("Version %(number)s (%(day)s)", number=v.number, day=_day(v))) for v in versions]
    form.old.choices = form.new.choices = choices
    compared = None
    if form.validate():
        for fieldname in ("old", "new"):
            chosen = getattr(form, fieldname)
            if chosen.data not in numbers:
                chosen.errors = [*chosen.errors, _("Choose a version of this convention")]
        if not form.old.errors and not form.new.errors:
            compared = queries.diff(session, me(), convention.id, int(form.old.data), int(form.new.data))
    status = 200 if compared is not None or not numbers else 422
    return page("conventions/diff.html", status, convention=convention, form=form, diff=compared, view=view,
                **_labels())


def _day(version: ConventionVersion) -> str:
    return format_skeleton("yMMMd", version.created_at, tzinfo=get_timezone(), locale=get_locale())


# ---- amendments ------------------------------------------------------------------------------

def _article_of(draft: Draft | None, article_id: str) -> dict[str, str]:
    if draft is None or len(article_id) > ARTICLE_ID:
        raise NotFound("article not found")
    found = next((a for a in draft.version.articles if a["id"] == article_id), None)
    if found is None:
        raise NotFound("article not found")
    return found


@blp.route("/conventions/<int:convention_id>/articles/<article_id>/amend", methods=["GET", "POST"])
@member_required
def propose(convention_id: int, article_id: str) -> ResponseReturnValue:
    convention = _convention(convention_id)
    draft = _draft(convention)
    article = _article_of(draft, article_id)
    assert draft is not None
    form = AmendmentForm(data={"version": str(draft.version.number), "kind": request.args.get("kind")
                               if request.args.get("kind") in KIND else None})
    context: dict[str, Any] = {"convention": convention, "draft": draft, "article": article, "form": form}
    if not _submitted(form):
        return page("conventions/propose.html", 422 if request.method == "POST" else 200, **context, **_labels())
    kind = form.kind.data
    command = ProposeAmendment(convention.id, int(form.version.data), kind, form.rationale.data or "",
                               article_id=None if kind == "insert" else article_id,
                               after=article_id if kind == "insert" else None, text=(form.text.data or None))
    try:
        amendment = engine().execute(command, me())
    except StaleVersion as stale:
        details = stale.details
        form.version.data = str(details.get("current_version", draft.version.number))
        return page("conventions/propose.html", 409, **context, stale=details, **_labels())
    except InvalidInput as refusal:
        _on_fields(form, refusal, {"article_id": "kind", "after": "kind"})
        return page("conventions/propose.html", 422, **context, **_labels())
    except Conflict as refusal:
        form.form_errors.append(explain(refusal))
        return page("conventions/propose.html", 409, **context, **_labels())
    flash(_("Your amendment is proposed. Other residents can now read and support it."))
    return redirect(url_for("site.conventions.show", convention_id=convention.id, _anchor=f"amendment-{amendment.id}"))


@blp.route("/conventions/<int:convention_id>/articles/<article_id>/comment", methods=["GET", "POST"])
@member_required
def comment(convention_id: int, article_id: str) -> ResponseReturnValue:
    convention = _convention(convention_id)
    draft = _draft(convention)
    article = _article_of(draft, article_id)
    assert draft is not None
    form = CommentForm(data={"version": str(draft.version.number)})
    notes = draft.comments.get(article_id, [])
    context: dict[str, Any] = {"convention": convention, "draft": draft, "article": article, "form": form, "comments": notes,
                               "names": _names({n.author_id for n in notes})}
    if not _submitted(form):
        return page("conventions/comment.html", 422 if request.method == "POST" else 200, **context, **_labels())
    try:
        engine().execute(CommentOnArticle(convention.id, int(form.version.data), article_id, form.text.data or ""), me())
    except InvalidInput as refusal:
        _on_fields(form, refusal)
        return page("conventions/comment.html", 422, **context, **_labels())
    except Conflict as refusal:
        form.form_errors.append(explain(refusal))
        return page("conventions/comment.html", 409, **context, **_labels())
    flash(_("Your comment is published."))
    return redirect(url_for("site.conventions.show", convention_id=convention.id, _anchor=f"article-{article_id}"))


def _amendment(convention: Convention, amendment_id: int) -> Amendment:
    amendment = queries.get_amendment(reader(), me(), _bounded(amendment_id))
    if amendment.convention_id != convention.id:
        raise NotFound("amendment not found")
    return amendment


def _act(convention_id: int, amendment_id: int, command: Any, done: str) -> ResponseReturnValue:
    convention = _convention(convention_id)
    amendment = _amendment(convention, amendment_id)
    _submitted(ActionForm())
    try:
        engine().execute(command, me())
    except Conflict as refusal:
        return _convention_page(convention, 409, problem=explain(refusal))
    flash(done)
    return redirect(url_for("site.conventions.show", convention_id=convention.id, _anchor=f"amendment-{amendment.id}"))


@blp.route("/conventions/<int:convention_id>/amendments/<int:amendment_id>/support", methods=["POST"])
@member_required
def support(convention_id: int, amendment_id: int) -> ResponseReturnValue:
    return _act(convention_id, amendment_id, SupportAmendment(amendment_id), _("Your support is counted."))


@blp.route("/conventions/<int:convention_id>/amendments/<int:amendment_id>/withdraw", methods=["POST"])
@member_required
def withdraw(convention_id: int, amendment_id: int) -> ResponseReturnValue:
    return _act(convention_id, amendment_id, WithdrawAmendment(amendment_id), _("Your amendment is withdrawn."))


@blp.route("/conventions/<int:convention_id>/amendments/<int:amendment_id>/decision", methods=["POST"])
@member_required
def decide(convention_id: int, amendment_id: int) -> ResponseReturnValue:
    convention = _convention(convention_id)
    amendment = _amendment(convention, amendment_id)
    form = DecisionForm()
    if not _submitted(form):
        if not me().has("committee"):
            raise PermissionDenied("this needs the role committee")
        return _convention_page(convention, 422, failed=form, failed_id=amendment.id)
    try:
        engine().execute(DecideAmendment(amendment.id, form.outcome.data or "", form.reason.data or "", form.text.data or None), me())
    except InvalidInput as refusal:
        _on_fields(form, refusal)
        return _convention_page(convention, 422, failed=form, failed_id=amendment.id)
    except Conflict as refusal:
        form.form_errors.append(explain(refusal))
        return _convention_page(convention, 409, failed=form, failed_id=amendment.id, problem=explain(refusal))
    flash(_("The decision on amendment #%(number)s is recorded.", number=amendment.id))
    return redirect(url_for("site.conventions.show", convention_id=convention.id, _anchor=f"amendment-{amendment.id}"))
