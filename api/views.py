"""One flask-smorest blueprint per resource, and the two things every view needs."""

from __future__ import annotations

import flask_smorest
from flask import current_app, g
from sqlalchemy.orm import Session

from api.limits import Parser
from engine.bootstrap import Engine


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's blueprint, whose ``@arguments`` refuse NUL characters (see ``api.limits.Parser``)."""

    ARGUMENTS_PARSER = Parser()


def engine() -> Engine:
    return current_app.extensions["yishi"]


def reader() -> Session:
    """A read-only session for the whole request, so responses can be serialized lazily.

    Commands never use it: each runs in its own unit of work. It is rolled back and closed when
    the request ends (see ``api.app``).
    """
    if "read_session" not in g:
        g.read_session = engine().db.session()
    return g.read_session


def close_reader(_exc: BaseException | None = None) -> None:
    session = g.pop("read_session", None)
    if session is not None:
        session.rollback()
        session.close()
