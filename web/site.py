"""What every page shares: the signed-in member (a session cookie), security headers, and error pages.

Everything here hangs on the ``site`` blueprint, which every page area is nested in: its hooks run for pages only,
never for an API request (the ballot's fast path refuses app-wide hooks it does not stand in for).

The Content-Security-Policy allows nothing but this server's own scripts, styles and images: no inline script, no
CDN. The security headers are a handful of constants written by one ``after_request`` hook rather than with
flask-talisman, which installs app-wide hooks (and would put the pages' policy on the API documentation, whose
Swagger UI needs an inline script).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, g, request
from sqlalchemy import bindparam, select
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from engine.identity import sign_in
from engine.identity.commands import TouchWebSession
from engine.identity.models import Community
from engine.kernel import errors
from engine.kernel.errors import Unauthenticated
from web.i18n import LOCALE_COOKIE, translated
from web.links import kind_label, menu_for
from web.views import close_reader, engine, now, page

STATIC_URL_PATH = "/static"
SESSION_COOKIE = "yishi_session"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
STATUS = {errors.NotFound: 404, errors.PermissionDenied: 403, errors.Unauthenticated: 401, errors.Conflict: 409,
          errors.InvalidInput: 422, errors.ScriptError: 422}
_TIMEZONE = select(Community.timezone).where(Community.id == bindparam("id"))
log = logging.getLogger(__name__)

blp = Blueprint("site", __name__, static_folder="static", static_url_path=STATIC_URL_PATH, template_folder="templates")


@blp.before_request
def load_member() -> None:
    """Who is asking: the member of a live session cookie, else a visitor (an ended session's cookie is dropped)."""
    g.member = None
    token = request.cookies.get(SESSION_COOKIE)
    if not token or request.endpoint == "site.static":
        return
    moment = now()
    with engine().db.autocommit() as connection:
        try:
            signed_in = sign_in.authenticate(connection, token, moment)
        except Unauthenticated:
            g.drop_session = True
            return
        g.timezone = connection.execute(_TIMEZONE, {"id": signed_in.actor.community_id}).scalar_one()
    g.member = signed_in.actor
    g.session_token = token
    if moment - signed_in.last_seen_at >= sign_in.SEEN_INTERVAL:
        engine().execute(TouchWebSession(token))


@blp.after_request
def secure(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "site.static":
        response.headers.setdefault("Cache-Control", "no-store")
    if g.get("drop_session"):
        forget_session(response)
    return response


def remember_session(response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=int(sign_in.SESSION_LIFETIME.total_seconds()), httponly=True,
                        samesite="Lax", secure=request.is_secure, path="/")


def forget_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax", secure=request.is_secure)


def remember_locale(response: Response, locale: str) -> None:
    response.set_cookie(LOCALE_COOKIE, locale, max_age=365 * 86400, httponly=True, samesite="Lax",
                        secure=request.is_secure, path="/")


@blp.errorhandler(CSRFError)
def expired_form(exc: CSRFError) -> ResponseReturnValue:
    return page("error.html", 400, status=400, kind="csrf")


@blp.errorhandler(errors.YishiError)
def refused(exc: errors.YishiError) -> ResponseReturnValue:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    return page("error.html", status, status=status, kind=exc.code, message=exc.message)


@blp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    return page("error.html", status, status=status, kind="http")


@blp.errorhandler(Exception)
def unexpected(exc: Exception) -> ResponseReturnValue:
    log.exception("unhandled error on a page", exc_info=exc)
    return page("error.html", 500, status=500, kind="internal")


blp.teardown_request(close_reader)


@blp.context_processor
def page_globals() -> dict[str, Any]:
    signed_in = g.get("member")
    return {"member": signed_in, "kind_label": kind_label, "translated": translated,
            "menu": menu_for(signed_in) if signed_in is not None else []}


def install(app: Flask) -> None:
    """Settings the pages' forms and cookies need: a signing key for the CSRF tokens (derived from the audit key, the
    same in every process of a deployment), tokens that do not expire while a resident reads slowly (they are bound
    to the browser's session cookie anyway), and cookies that never travel cross-site."""
    if not app.secret_key:
        app.secret_key = app.extensions["yishi"].context.secret("web forms")
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    # Flask's own defaults (``session``, no SameSite) are already in app.config, so setdefault would keep them.
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_NAME"] = "yishi_form"
    app.jinja_env.globals["csrf_token"] = generate_csrf

