"""``/``: what Yishi is and how to sign in; ``/home``: the member's agenda, soonest deadline first."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from engine.kernel.agenda import agenda
from web.links import LABELS, link_for
from web.views import me, member_required, now, page, reader

blp = Blueprint("home", __name__, template_folder="templates")
LABELS.update({
    "give_opinion": _l("Consultation: give your opinion"),
    "cast_ballot": _l("Vote: cast your ballot"),
    "propose_amendment": _l("Convention: amendments are open"),
    "rate_service": _l("Service quality: rate a service"),
    "answer_request": _l("Service request to answer"),
    "complete_task": _l("Task for your role"),
})
"""Each agenda kind's label until the area that acts on it registers its page (``web.links.links_to``)."""


@blp.route("/")
def landing() -> ResponseReturnValue:
    return page("home/landing.html")


@blp.route("/home")
@member_required
def home() -> ResponseReturnValue:
    items = agenda(reader(), me(), now())
    return page("home/home.html", items=[(item, link_for(item)) for item in items])
