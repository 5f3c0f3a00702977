"""User tasks: my task list, one task with its form schema, completing it."""

from __future__ import annotations

from typing import Any


from api.auth import actor
from api.views import Blueprint, engine, reader
from api.workflows.schemas import (
    CompleteTaskSchema, InstanceDetailSchema, TaskDetailSchema, TaskFilterSchema, TaskSchema,
)
from api.schemas import page_of
from engine.kernel.commands import CompleteTask
from engine.kernel import queries
from engine.kernel.definitions import spec_document
from engine.kernel.instances import get_instance, get_task

blp = Blueprint("tasks", __name__, url_prefix="/api/tasks", description="User tasks")


@blp.route("")
@blp.arguments(TaskFilterSchema, location="query")
@blp.response(200, page_of(TaskSchema, "TaskPage"))
def my_tasks(args: dict[str, Any]) -> Any:
    """Ready tasks in my community whose lane is one of my roles."""
    return queries.my_tasks(reader(), actor(), args["page"], args["page_size"], args.get("instance_id"))


@blp.route("/<task_id>")
@blp.response(200, TaskDetailSchema)
def get(task_id: str) -> Any:
    session = reader()
    task = get_task(session, actor(), task_id)
    instance = get_instance(session, actor(), task.instance_id)
    form_schema = spec_document(instance.definition)["forms"].get(task.form) if task.form else None
    return {**TaskSchema().dump(task), "form_schema": form_schema}


@blp.route("/<task_id>/complete", methods=["POST"])
@blp.arguments(CompleteTaskSchema)
@blp.response(200, InstanceDetailSchema)
def complete(args: dict[str, Any], task_id: str) -> Any:
    """Complete a ready task of my lane with its form data; returns the instance as it now stands."""
    instance = engine().execute(CompleteTask(task_id, args["data"]), actor())
    return get_instance(reader(), actor(), instance.id)
