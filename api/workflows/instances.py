"""Process instances: start, list, read (with open tasks), messages, retry, and their history."""

from __future__ import annotations

from typing import Any


from api.auth import actor
from api.views import Blueprint, engine, reader
from api.workflows.schemas import (
    EventSchema, InstanceDetailSchema, InstanceFilterSchema, InstanceSchema, MessageSchema, RetrySchema, StartInstanceSchema,
)
from api.schemas import PageQuery, page_of
from engine.kernel.commands import DeliverMessage, RetryInstance, StartInstance
from engine.kernel import queries
from engine.kernel.instances import get_instance

blp = Blueprint("instances", __name__, url_prefix="/api/instances", description="Process instances and their history")


@blp.route("", methods=["POST"])
@blp.arguments(StartInstanceSchema)
@blp.response(201, InstanceDetailSchema)
def start(args: dict[str, Any]) -> Any:
    """Start the newest version of a definition (committee)."""
    instance = engine().execute(StartInstance(args["definition_key"], args["variables"]), actor())
    return _detail(instance.id)


@blp.route("")
@blp.arguments(InstanceFilterSchema, location="query")
@blp.response(200, page_of(InstanceSchema, "InstancePage"))
def list_instances(args: dict[str, Any]) -> Any:
    session = reader()
    page = queries.instances(
        session, actor(), args["page"], args["page_size"], status=args.get("status"), key=args.get("definition_key")
    )
    return page


@blp.route("/<instance_id>")
@blp.response(200, InstanceDetailSchema)
def get(instance_id: str) -> Any:
    return _detail(instance_id)


@blp.route("/<instance_id>/messages", methods=["POST"])
@blp.arguments(MessageSchema)
@blp.response(200, InstanceDetailSchema)
def deliver_message(args: dict[str, Any], instance_id: str) -> Any:
    engine().execute(DeliverMessage(instance_id, args["message"], args["payload"]), actor())
    return _detail(instance_id)


@blp.route("/<instance_id>/retry", methods=["POST"])
@blp.arguments(RetrySchema)
@blp.response(200, InstanceDetailSchema)
def retry(args: dict[str, Any], instance_id: str) -> Any:
    """Run a failed instance forward again (admins), optionally correcting the failed task's data."""
    engine().execute(RetryInstance(instance_id, args["data"]), actor())
    return _detail(instance_id)


@blp.route("/<instance_id>/events")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(EventSchema, "EventPage"))
def events(args: dict[str, Any], instance_id: str) -> Any:
    """The instance's history, oldest first."""
    session = reader()
    return queries.events(session, actor(), instance_id, args["page"], args["page_size"])


def _detail(instance_id: str) -> Any:
    return get_instance(reader(), actor(), instance_id)
