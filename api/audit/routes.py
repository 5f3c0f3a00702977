"""The audit trail: bundles, verification, replay, time travel, checkpoints and the signing key.

Auditors read everything of their community and change nothing; a resident may take a public
bundle and the checkpoints and check them too. The rules live in ``engine.audit.access``.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, request

from api.audit.schemas import (
    AuditBundleSchema, BundleQuery, ChainLinkSchema, CheckpointSchema, PathQuery, PathSchema, PublicKeySchema, ReplaySchema, SnapshotSchema,
    VerdictSchema, VerifyBundleQuery, VerifyStoredSchema,
)
from api.auth import actor
from api.views import Blueprint, engine, reader
from api.schemas import PageQuery, page_of
from engine.audit import access, path

blp = Blueprint("audit", __name__, url_prefix="/api", description="The audit trail: bundles, verification, replay, time travel")


@blp.before_request
def allow_large_bundles() -> None:
    """A community's bundle outgrows the API's usual body limit; only its upload may be that large."""
    if request.endpoint == "audit.verify_bundle":
        request.max_content_length = current_app.config["MAX_BUNDLE_LENGTH"]


@blp.route("/audit/bundle")
@blp.arguments(BundleQuery, location="query")
@blp.response(200, AuditBundleSchema, description="The bundle, as a JSON file to save.")
@blp.alt_response(404, response="NOT_FOUND")
def bundle(args: dict[str, Any]) -> Response:
    """Export your community's audit bundle, or one instance's, as one JSON file.

    A public bundle (any member) holds digests in place of personal data; a full one (auditors
    and admins) holds the values and salts, and can be replayed. Check it offline with
    `yishi verify-bundle FILE`.
    """
    yishi = engine()
    document = access.export_bundle(reader(), actor(), signer=yishi.signer, now=yishi.clock.now(),
                                    instance_id=args["instance"], public=args["public"])
    name = f"yishi-audit-{args['instance'] or f'community-{actor().community_id}'}-{'public' if args['public'] else 'full'}.json"
    return Response(json.dumps(document, ensure_ascii=False), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blp.route("/audit/verify", methods=["POST"])
@blp.arguments(VerifyStoredSchema)
@blp.response(200, VerdictSchema)
def verify_stored(args: dict[str, Any]) -> Any:
    """Verify the stored history of your community, or of one instance (auditors, admins, committee).

    Every offline check, replay included, on the history as it is stored now, against this
    deployment's signing key. `ok` false is still a 200: the verdict is the answer.
    """
    yishi = engine()
    return access.verify_stored(reader(), actor(), signer=yishi.signer, now=yishi.clock.now(),
                                instance_id=args["instance"]).as_dict()


@blp.route("/audit/verify-bundle", methods=["POST"])
@blp.arguments(VerifyBundleQuery, location="query")
@blp.arguments(AuditBundleSchema)
@blp.response(200, VerdictSchema)
def verify_bundle(query: dict[str, Any], bundle: dict[str, Any]) -> Any:
    """Check an audit bundle you bring, as `yishi verify-bundle` does offline (auditors, admins, committee).

    Send the bundle as the JSON body (up to `MAX_BUNDLE_LENGTH`, 64 MB by default; check larger
    ones offline). Checkpoints must be signed with this deployment's key. A malformed bundle is
    refused with 422 and the fields at fault.
    """
    return access.verify_uploaded(actor(), bundle, signer=engine().signer, replay=query["replay"]).as_dict()


@blp.route("/instances/<instance_id>/replay")
@blp.response(200, ReplaySchema)
def replay(instance_id: str) -> Any:
    """Re-apply the instance's events from nothing and compare every state digest (auditors, admins, committee)."""
    return access.replay_instance(reader(), actor(), instance_id)


@blp.route("/instances/<instance_id>/as-of/<int:seq>")
@blp.response(200, SnapshotSchema)
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def as_of(instance_id: str, seq: int) -> Any:
    """Time travel: the instance right after its event `seq` — open tasks, data, timers, the path taken
    (auditors, admins, committee). A `seq` beyond the history is a 404."""
    return access.as_of(reader(), actor(), instance_id, seq)


@blp.route("/instances/<instance_id>/path")
@blp.arguments(PathQuery, location="query")
@blp.response(200, PathSchema)
@blp.alt_response(409, response="CONFLICT")
def executed_path(args: dict[str, Any], instance_id: str) -> Any:
    """The executed path as the auditor's diagram marks it (auditors, admins, committee): each element's state and
    times completed, each sequence flow's times taken, right after event `as_of` (the last event without it).
    An `as_of` beyond the history is a 404."""
    return path.instance_path(reader(), actor(), instance_id, args["as_of"])


@blp.route("/instances/<instance_id>/chain")
@blp.response(200, ChainLinkSchema(many=True))
def chain_links(instance_id: str) -> Any:
    """Each event's hash link, oldest first: whether it still matches its content and follows the event before
    (auditors, admins, committee). The whole verification is `POST /api/audit/verify`."""
    return path.chain_links(reader(), actor(), instance_id)


@blp.route("/audit/checkpoints")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(CheckpointSchema, "CheckpointPage"))
def checkpoints(args: dict[str, Any]) -> Any:
    """Signed checkpoints, newest first, with your community's heads and their proofs (any member).

    Keep them: a later bundle must still hold every head a checkpoint signed. A checkpoint of format
    `yishi-checkpoint/2` (every one since migration 0005) carries your community's own proof
    (`community`) and says nothing of other communities' instances; one of format 1 keeps the
    deployment-wide `size` it was signed with.
    """
    return access.list_checkpoints(reader(), actor(), args["page"], args["page_size"])


@blp.route("/audit/public-key")
@blp.response(200, PublicKeySchema)
@blp.doc(security=[])
def public_key() -> Any:
    """The Ed25519 key that signs checkpoints; needs no token, so anyone can pin it."""
    return access.public_key(engine().signer)
