"""The operations BPMN service tasks may call, registered by the domain modules that own them.

An operation runs inside the command's unit of work with a ``ServiceContext`` and returns a
JSON-compatible result, which the engine records in the event (see ``engine/bpmn/service_calls.py``).
Deployment refuses service tasks naming an unknown operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sqlalchemy.orm import Session

from engine.kernel.errors import ScriptError
from engine.identity.actors import Actor
from engine.kernel.models import Instance


@dataclass(frozen=True)
class ServiceContext:
    session: Session
    instance: Instance
    actor: Actor | None
    now: datetime
    publish: Callable[[str], None]
    """``UnitOfWork.publish``: the operation publishes a result, so a checkpoint follows the command's commit."""


Operation = Callable[[ServiceContext, dict[str, Any]], Any]
_REGISTRY: dict[str, Operation] = {}


def operation(name: str) -> Callable[[Operation], Operation]:
    def register(function: Operation) -> Operation:
        _REGISTRY[name] = function
        return function

    return register


def known(name: str) -> bool:
    return name in _REGISTRY


def run(name: str, context: ServiceContext, params: dict[str, Any]) -> Any:
    if name not in _REGISTRY:
        raise ScriptError(f"unknown service operation {name!r}")
    return _REGISTRY[name](context, params)
