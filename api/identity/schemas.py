"""Schemas of communities, members and tokens."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import StrictSchema
from engine.identity.members import ROLES


class CommunitySchema(Schema):
    id = fields.Integer()
    slug = fields.String()
    name = fields.String()
    timezone = fields.String()
    created_at = fields.DateTime()


class MemberSchema(Schema):
    id = fields.Integer()
    community_id = fields.Integer()
    name = fields.String()
    roles = fields.List(fields.String())
    household = fields.String(allow_none=True)
    area = fields.String(allow_none=True, metadata={"description": "Floor area in m² (owners), a decimal string."})
    created_at = fields.DateTime()


class NewMemberSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True, validate=validate.Length(min=1))
    household = fields.String(load_default=None, validate=validate.Length(min=1, max=100),
                              metadata={"description": "The register's household (a flat), for one ballot per household."})
    area = fields.String(load_default=None, validate=validate.Regexp(r"^\d{1,9}(\.\d{1,4})?$"),
                         metadata={"description": "An owner's floor area in m², e.g. \"86.35\"."})


class NewTokenSchema(StrictSchema):
    label = fields.String(load_default="", validate=validate.Length(max=100))


class TokenSchema(Schema):
    member_id = fields.Integer()
    token = fields.String(metadata={"description": "Shown once; only its hash is stored."})


class MemberWithTokenSchema(MemberSchema):
    token = fields.String(metadata={"description": "Shown once; only its hash is stored."})


class RegisterQuery(StrictSchema):
    q = fields.String(load_default="", validate=validate.Length(max=100),
                      metadata={"description": "Keep the members whose name or household contains this (any case)."})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class RegisterEntrySchema(MemberSchema):
    has_unused_code = fields.Boolean(metadata={"description": "Whether the member has a sign-in code not yet used, replaced or expired."})
    unused_code_expires_at = fields.DateTime(allow_none=True)
    live_sessions = fields.Integer(metadata={"description": "Web sessions of the member still open."})


class ImportQuery(StrictSchema):
    dry_run = fields.Boolean(load_default=False, metadata={"description": "Read and check the file, write nothing (the preview)."})
    sha256 = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9a-f]{64}$"),
                           metadata={"description": "The sha256 of the file previewed: another file is refused (409)."})


class ImportRowSchema(Schema):
    line = fields.Integer(metadata={"description": "The line of the file (the header is line 1)."})
    name = fields.String()
    roles = fields.List(fields.String())
    household = fields.String(allow_none=True)
    area = fields.String(allow_none=True)


class ImportErrorSchema(Schema):
    row = fields.Integer(metadata={"description": "The line of the file (the header is line 1; 0 for the whole file)."})
    field = fields.String()
    message = fields.String()


class ImportResultSchema(Schema):
    dry_run = fields.Boolean()
    encoding = fields.String(metadata={"description": "How the file was read: UTF-8, UTF-8 (BOM), UTF-16 or GBK."})
    sha256 = fields.String(metadata={"description": "The file's sha256: send it with the import to import exactly this file."})
    rows = fields.List(fields.Nested(ImportRowSchema))
    errors = fields.List(fields.Nested(ImportErrorSchema), metadata={"description": "Every row's errors (a dry run; an import with errors is refused whole with 422)."})
    imported = fields.Integer()
    member_ids = fields.List(fields.Integer())


class SignInCodeSchema(Schema):
    member_id = fields.Integer()
    code = fields.String(metadata={"description": "Shown once; only its keyed hash is stored. It replaces the member's unused code."})


class RevokedSessionsSchema(Schema):
    member_id = fields.Integer()
    revoked = fields.Integer(metadata={"description": "How many live web sessions were ended."})


class LettersRequestSchema(StrictSchema):
    member_ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)), load_default=list,
                             validate=validate.Length(max=500))
    without_unused_code = fields.Boolean(load_default=False,
                                         metadata={"description": "Every member without an unused code (instead of member_ids)."})
