"""Sign in with the code from the committee's letter; sign out; switch the pages' language.

Sign-in attempts are limited per address with the ``limits`` library (a moving window in this process's memory: with
several server processes each counts its own, which still bounds guessing far below the codes' 32^10 space). The
Flask-Limiter extension is not used because it installs app-wide hooks, which the ballot's fast path refuses.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from engine.identity.commands import SignIn, SignOut
from engine.kernel.errors import Unauthenticated
from web import site
from web.account.forms import LocaleForm, SignInForm
from web.forms import ActionForm
from web.i18n import LOCALES
from web.views import engine, member, page, safe_next

blp = Blueprint("account", __name__, template_folder="templates")
ATTEMPTS = parse_many("10/minute;60/hour")
_limiter = MovingWindowRateLimiter(MemoryStorage())


@blp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    form = SignInForm(next=request.args.get("next", ""))
    if member() is not None and request.method == "GET":
        return redirect(safe_next(form.next.data, url_for("site.home.home")))
    if not form.validate_on_submit():
        return page("account/sign_in.html", 422 if request.method == "POST" else 200, form=form)
    if not all(_limiter.hit(limit, "sign-in", _address()) for limit in ATTEMPTS):
        form.code.errors = [_("Too many attempts from this device. Wait a few minutes and try again.")]
        return page("account/sign_in.html", 429, form=form)
    try:
        opened = engine().execute(SignIn(form.code.data or ""))
    except Unauthenticated:
        form.code.errors = [_("This code is unknown, already used or expired. Ask your committee for a new one.")]
        return page("account/sign_in.html", 422, form=form)
    response = redirect(safe_next(form.next.data, url_for("site.home.home")))
    site.remember_session(response, opened.token)
    return response


@blp.route("/sign-out", methods=["POST"])
def sign_out() -> ResponseReturnValue:
    form = ActionForm()
    if not form.validate_on_submit():
        return redirect(url_for("site.home.landing"))
    token = g.get("session_token")
    if token:
        engine().execute(SignOut(token))
    response = redirect(url_for("site.home.landing"))
    site.forget_session(response)
    return response


@blp.route("/locale", methods=["POST"])
def choose_locale() -> ResponseReturnValue:
    form = LocaleForm()
    back = safe_next(form.next.data, url_for("site.home.landing"))
    if not form.validate_on_submit() or form.locale.data not in LOCALES:
        return redirect(back)
    response = redirect(back)
    site.remember_locale(response, form.locale.data)
    return response


def _address() -> str:
    """The client's address, as the WSGI server saw it."""
    return request.remote_addr or "unknown"


def reset_attempts() -> None:
    """Forget every counted attempt (tests that sign in many times from one address)."""
    _limiter.storage.reset()

