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
