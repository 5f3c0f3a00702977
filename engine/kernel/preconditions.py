"""Named conditions a user task can require before it may be completed.

A task declares ``precondition`` in its extension properties (e.g. ``all_opinions_answered``);
the domain module that owns the records registers the check. Deployment refuses unknown names,
so a typo in a BPMN file is caught before any instance runs.
"""

from __future__ import annotations

from typing import Callable

from sqlalchemy.orm import Session

from engine.kernel.errors import Conflict
from engine.kernel.models import Instance

Check = Callable[[Session, Instance], str | None]
"""Returns None when the task can be completed. When it cannot, the check raises ``Conflict(message,
precondition=name)`` itself — a literal (f-)string per wording, which ``scripts/translations`` extracts into the API's
catalogue so callers read it in their language — or returns the reason, which ``enforce`` raises."""

PRECONDITION_PROPERTY = "precondition"
COLLECTS_PROPERTY = "collects"
"""The user-task property naming what the API accepts while the task is open (``opinions``, ``amendments``, …)."""
_REGISTRY: dict[str, Check] = {}


def precondition(name: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        _REGISTRY[name] = check
        return check

    return register


def known(name: str) -> bool:
    return name in _REGISTRY


def enforce(name: str | None, session: Session, instance: Instance) -> None:
    if name is None:
        return
    reason = _REGISTRY[name](session, instance)
    if reason is not None:
        raise Conflict(reason, precondition=name)
