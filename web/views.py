"""What every page view needs: the engine, a read session, the time, the signed-in member, and rendering."""

from __future__ import annotations

from datetime import datetime
from functools import wraps
from typing import Any, Callable, TypeVar

from flask import current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from engine.bootstrap import Engine
from engine.identity.actors import Actor

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


def engine() -> Engine:
    return current_app.extensions["yishi"]


def reader() -> Session:
    """A read-only session for the page (rolled back and closed when the request ends); commands use their own."""
    if "web_reader" not in g:
        g.web_reader = engine().db.session()
    return g.web_reader


def close_reader(_exc: BaseException | None = None) -> None:
    session = g.pop("web_reader", None)
    if session is not None:
        session.rollback()
        session.close()


def now() -> datetime:
    return engine().clock.now()


def member() -> Actor | None:
    """The signed-in member, or None for a visitor."""
    return g.get("member")


def me() -> Actor:
    """The signed-in member of a ``member_required`` view."""
    actor = g.get("member")
    assert actor is not None, "a view that calls me() must be member_required"
    return actor


def member_required(view: View) -> View:
    """Send a visitor to the sign-in page, and back here once signed in."""
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if g.get("member") is None:
            return redirect(url_for("site.account.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return guarded  # type: ignore[return-value]


def page(template: str, http_status: int = 200, **context: Any) -> ResponseReturnValue:
    return render_template(template, **context), http_status


def safe_next(target: str | None, default: str) -> str:
    """A local path to go back to after signing in; anything else (another site, ``//host``) goes ``default``."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
