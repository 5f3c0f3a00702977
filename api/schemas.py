"""Schemas every domain's resources share: strict bodies, bounded integers, pages; and the health answer.

Each domain's own schemas are in its package (``api/<domain>/schemas.py``).
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.limits import DB_INT_MAX, MAX_PAGE
from engine.kernel.queries import MAX_PAGE_SIZE


class StrictSchema(Schema):
    """Input schemas refuse unknown fields, so a typo is an error rather than silently ignored."""

    class Meta:
        ordered = True


def bounded() -> validate.Range:
    """Integers in input fit the database's integer columns (ids, versions, rounds): 1 to ``DB_INT_MAX``."""
    return validate.Range(min=1, max=DB_INT_MAX)


class PageQuery(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class PageMeta(Schema):
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """A response schema ``{"items": [...], "total", "page", "page_size"}`` for one item schema."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item)), "total": fields.Integer(), "page": fields.Integer(), "page_size": fields.Integer()},
        name=name,
    )


class HealthSchema(Schema):
    status = fields.String()
    database = fields.String()
