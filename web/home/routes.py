"""``/``: what Yishi is and how to sign in; ``/home``: the member's agenda, soonest deadline first."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from engine.kernel.agenda import agenda
from web.links import link_for
from web.views import me, member_required, now, page, reader

blp = Blueprint("home", __name__, template_folder="templates")


@blp.route("/")
def landing() -> ResponseReturnValue:
    return page("home/landing.html")


@blp.route("/home")
@member_required
def home() -> ResponseReturnValue:
    items = agenda(reader(), me(), now())
    return page("home/home.html", items=[(item, link_for(item)) for item in items])
