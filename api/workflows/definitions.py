"""Process definitions: list, read (with the BPMN XML), deploy and adopt (admins).

A community sees the platform's versions and its own, never another community's. What an admin
deploys is the community's own; adopting makes a platform version the one the community runs.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from api.auth import actor
from api.views import Blueprint, engine, reader
from api.workflows.schemas import (
    AdoptionSchema, AdoptSchema, DefinitionDetailSchema, DefinitionSchema, DeploymentSchema, DeploySchema,
)
from api.schemas import PageQuery, StrictSchema, page_of
from engine.kernel.commands import AdoptDefinition, DeployDefinition
from engine.kernel import definitions
from engine.kernel import queries

blp = Blueprint("definitions", __name__, url_prefix="/api/definitions", description="Deployed process definitions")


class DefinitionFilter(PageQuery):
    key = fields.String()


class VersionQuery(StrictSchema):
    owner = fields.String(load_default="community", validate=validate.OneOf(["community", "platform"]),
                          metadata={"description": "Your community's version (the default) or the platform's."})


@blp.route("")
@blp.arguments(DefinitionFilter, location="query")
@blp.response(200, page_of(DefinitionSchema, "DefinitionPage"))
def list_definitions(args: dict[str, Any]) -> Any:
    """Every version your community sees — its own, then the platform's — newest first per key, with who deployed it and when."""
    session = reader()
    return queries.definitions(session, actor(), args["page"], args["page_size"], args.get("key"))


@blp.route("", methods=["POST"])
@blp.arguments(DeploySchema)
@blp.response(201, DeploymentSchema)
def deploy(args: dict[str, Any]) -> Any:
    """Deploy a BPMN or DMN file as your community's own version (admins); your community runs it from now on.

    Identical content to your community's newest version is a no-op. The platform's versions are
    deployed by the platform operator with `yishi deploy`, never through the API."""
    deployment = engine().execute(DeployDefinition(args["filename"], args["source"].encode("utf-8")), actor())
    return {"created": deployment.created, "definition": deployment.definition}


@blp.route("/<key>")
@blp.response(200, DefinitionDetailSchema)
def get_latest(key: str) -> Any:
    """The version your community's next start of `key` runs."""
    session = reader()
    return definitions.get_resolved(session, actor().community_id, key)


@blp.route("/<key>/adopt", methods=["POST"])
@blp.arguments(AdoptSchema)
@blp.response(201, AdoptionSchema)
def adopt(args: dict[str, Any], key: str) -> Any:
    """Run the platform's `version` of `key` from now on (admins); instances already started keep theirs."""
    return engine().execute(AdoptDefinition(key, args["version"]), actor())


@blp.route("/<key>/adoptions")
@blp.response(200, AdoptionSchema(many=True))
def adoptions(key: str) -> Any:
    """Which version your community ran for `key`, and from when: each choice, oldest first."""
    return queries.adoptions(reader(), actor(), key)


@blp.route("/<key>/versions/<int:version>")
@blp.arguments(VersionQuery, location="query")
@blp.response(200, DefinitionDetailSchema)
def get_version(args: dict[str, Any], key: str, version: int) -> Any:
    """One version: your community's own (`owner=community`, the default) or the platform's (`owner=platform`)."""
    return definitions.get_version(reader(), key, version, None if args["owner"] == "platform" else actor().community_id)
