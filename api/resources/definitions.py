"""Process definitions: list, read (with the BPMN XML), deploy (admins)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields
from sqlalchemy import select

from api.auth import actor
from api.resources import Blueprint, engine, reader
from api.schemas import DefinitionDetailSchema, DefinitionSchema, DeploymentSchema, DeploySchema, PageQuery, page_of
from engine import commands, definitions, queries
from engine.errors import NotFound
from engine.models import Definition

blp = Blueprint("definitions", __name__, url_prefix="/api/definitions", description="Deployed process definitions")


class DefinitionFilter(PageQuery):
    key = fields.String()


@blp.route("")
@blp.arguments(DefinitionFilter, location="query")
@blp.response(200, page_of(DefinitionSchema, "DefinitionPage"))
def list_definitions(args: dict[str, Any]) -> Any:
    """Every deployed version, newest first per key."""
    session = reader()
    return queries.definitions(session, args["page"], args["page_size"], args.get("key"))


@blp.route("", methods=["POST"])
@blp.arguments(DeploySchema)
@blp.response(201, DeploymentSchema)
def deploy(args: dict[str, Any]) -> Any:
    """Deploy a BPMN file (admins). Identical content to the newest version is a no-op."""
    deployment = engine().execute(commands.DeployDefinition(args["filename"], args["source"].encode("utf-8")), actor())
    return {"created": deployment.created, "definition": deployment.definition}


@blp.route("/<key>")
@blp.response(200, DefinitionDetailSchema)
def get_latest(key: str) -> Any:
    session = reader()
    return definitions.get_latest(session, key)


@blp.route("/<key>/versions/<int:version>")
@blp.response(200, DefinitionDetailSchema)
def get_version(key: str, version: int) -> Any:
    session = reader()
    found = session.scalar(select(Definition).where(Definition.key == key, Definition.version == version))
    if found is None:
        raise NotFound(f"definition {key} has no version {version}")
    return found
