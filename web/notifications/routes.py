"""Notifications: what happened for the member (an opinion answered, a vote opened, a rating window opened, a request
answered), newest first, with the unread count in the menu.

``/notifications`` is ``GET /api/me/notifications`` as a page (the same engine query, ``engine.kernel.notifications``),
each notification in words of the page's language, its moment, and a link to the page where it is acted on (the one
its area registered with ``web.links.links_to``; none for a kind no area has a page for yet). "Mark all as read" is the
command ``MarkNotificationsRead``, as ``POST /api/me/notifications/read``: up to the moment the page was read, so a
notification that arrives meanwhile stays new.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from wtforms import HiddenField

from engine.identity.actors import Actor
from engine.kernel.commands import MarkNotificationsRead
from engine.kernel.notifications import Entry, notifications, unread_count
from web.forms import ActionForm
from web.i18n import translated
from web.links import link_for, menu_entry
from web.views import engine, me, member_required, now, page, reader

blp = Blueprint("notifications", __name__, template_folder="templates")
PAGE_SIZE = 20
MAX_PAGE = 100_000
VERDICTS = {"adopted": _l("adopted"), "partly_adopted": _l("partly adopted"), "not_adopted": _l("not adopted")}
VOTE_OUTCOMES = {"passed": _l("passed"), "rejected": _l("rejected"), "tie": _l("a tie"), "invalid": _l("invalid")}
AMENDMENT_OUTCOMES = {"accepted": _l("accepted"), "accepted_with_changes": _l("accepted with changes"),
                      "rejected": _l("rejected")}


def unread(actor: Actor) -> int:
    """The menu's count: the member's unread notifications, read in a short session of its own (the engine's query)."""
    with engine().read() as session:
        return unread_count(session, actor)


menu_entry("site.notifications.index", _l("Notifications"), 90, count=unread)


class MarkReadForm(ActionForm):
    until = HiddenField()


@blp.route("/notifications")
@member_required
def index() -> ResponseReturnValue:
    number = request.args.get("page", 1, type=int)
    listed = notifications(reader(), me(), number if 1 <= number <= MAX_PAGE else 1, PAGE_SIZE)
    items = [(entry, words(entry), link_for(entry)) for entry in listed.items]
    form = MarkReadForm(formdata=None, until=now().isoformat())
    pages = max(1, (listed.total + listed.page_size - 1) // listed.page_size)
    return page("notifications/index.html", listed=listed, items=items, form=form, pages=pages)


@blp.route("/notifications/read", methods=["POST"])
@member_required
def mark_read() -> ResponseReturnValue:
    form = MarkReadForm()
    if not form.validate_on_submit():
        raise CSRFError()
    engine().execute(MarkNotificationsRead(_moment(form.until.data)), me())
    return redirect(url_for("site.notifications.index"))


def _moment(text: str | None) -> datetime | None:
    """The moment the page was read (an aware ISO 8601 moment), or None — now — for anything else."""
    try:
        moment = datetime.fromisoformat(text) if text and len(text) <= 40 else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def words(entry: Entry) -> str:
    """What happened, in the page's language (the engine's summary is English; its ids and outcomes are in ``refs``)."""
    refs, kind = entry.refs, entry.kind
    if kind == "opinion_period_opened":
        return _("An opinion period opened: you may give your opinion.")
    if kind == "opinion_answered":
        verdict = refs.get("verdict")
        return _("Your opinion was answered: %(verdict)s.", verdict=VERDICTS.get(verdict, str(verdict).replace("_", " ")))
    if kind == "vote_opened":
        return _("A vote opened: you may cast a ballot.")
    if kind == "vote_closed":
        outcome = refs.get("outcome")
        if not outcome:
            return _("The vote closed.")
        return _("The vote closed: %(outcome)s.", outcome=VOTE_OUTCOMES.get(outcome, str(outcome).replace("_", " ")))
    if kind == "rating_opened":
        return _("Rate the service you received in cycle %(cycle)s.", cycle=refs.get("cycle"))
    if kind == "request_answered":
        return _("Your complaint was answered.") if refs.get("kind") == "complaint" else _("Your request was answered.")
    if kind == "amendment_period_opened":
        return _("Drafting round %(round)s is open for amendments.", round=refs.get("round"))
    if kind == "amendment_decided":
        outcome = refs.get("outcome")
        return _("Your amendment was decided: %(outcome)s.",
                 outcome=AMENDMENT_OUTCOMES.get(outcome, str(outcome or "").replace("_", " ")))
    return translated(entry.summary)


