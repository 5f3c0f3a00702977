"""Checking a PDCA plan and its standard (indicators, targets, sources) and the fields of records: each failing field named."""

from __future__ import annotations

import math
import re
from typing import Any

from sqlalchemy.orm import Session

from engine.kernel.errors import InvalidInput
from engine.pdca import indicators
from engine.pdca.queries import member_of

DECISION = "indicator_status"
"""The DMN decision (``processes/quality.dmn``) that classifies an indicator as met, near or missed."""
STATUSES = ("met", "near", "missed")
NO_DATA = "no_data"
SOURCES = {"ratings": "the residents' ratings (1–5)", "measurements": "a metric's measurements",
           "records": "the service records"}
MAX_INDICATORS = 20
MAX_SUBJECTS = 1000
MAX_TEXT = 2000
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


# ---- the plan and its standard -------------------------------------------------------------------

def validate_plan(session: Session, community_id: int, plan: Any) -> dict[str, Any]:
    """The committee's plan, checked and normalized; every failing field is listed (``plan.indicators.0.target``,
    as the form's own errors name them)."""
    errors: list[dict[str, str]] = []
    if not isinstance(plan, dict):
        raise InvalidInput("the plan is missing", errors=[{"field": "plan", "message": "required"}])
    checked = {
        "service": text_field(plan.get("service"), "plan.service", errors, limit=200),
        "description": text_field(plan.get("description", ""), "plan.description", errors, limit=5000, required=False),
        "provider_id": _provider(session, community_id, plan.get("provider_id"), errors),
        "cycle_days": _integer(plan.get("cycle_days"), "plan.cycle_days", 1, 366, errors),
        "rating_days": _integer(plan.get("rating_days", 7), "plan.rating_days", 1, 60, errors),
        "answer_hours": _integer(plan.get("answer_hours", 48), "plan.answer_hours", 1, 720, errors),
        "indicators": validate_standard(plan.get("indicators"), "plan.indicators", errors),
    }
    errors += [{"field": f"plan.{k}", "message": "unknown field"} for k in sorted(set(plan) - set(checked))]
    if errors:
        raise InvalidInput("the plan is not valid", errors=errors)
    return checked


def validate_standard(raw: Any, path: str, errors: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The indicators of a standard, each with its kind, source, unit, target and direction."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_INDICATORS:
        errors.append({"field": path, "message": f"1 to {MAX_INDICATORS} indicators"})
        return []
    checked = [_indicator(item, f"{path}.{i}", errors) for i, item in enumerate(raw)]
    keys = [item.get("key") for item in checked]
    errors += [{"field": f"{path}.{i}.key", "message": "used twice"}
               for i, key in enumerate(keys) if key is not None and key in keys[:i]]
    return checked


def _indicator(raw: Any, path: str, errors: list[dict[str, str]]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors.append({"field": path, "message": "an object"})
        return {}
    kind = _choice(raw.get("kind"), f"{path}.kind", indicators.KINDS, errors)
    default_source = "records" if kind == "count_per_subject" else None
    source = _choice(raw.get("source", default_source), f"{path}.source", tuple(SOURCES), errors)
    item: dict[str, Any] = {
        "key": _key(raw.get("key"), f"{path}.key", errors),
        "name": text_field(raw.get("name"), f"{path}.name", errors, limit=200),
        "kind": kind,
        "source": source,
        "unit": text_field(raw.get("unit"), f"{path}.unit", errors, limit=20),
        "target": _number(raw.get("target"), f"{path}.target", errors),
        "direction": _choice(raw.get("direction"), f"{path}.direction", indicators.DIRECTIONS, errors),
        "near_margin": _number(raw.get("near_margin", 0), f"{path}.near_margin", errors, minimum=0),
    }
    if kind and source and (kind == "count_per_subject") != (source == "records"):
        errors.append({"field": f"{path}.source", "message": "count_per_subject counts records; the other kinds use ratings or measurements"})
    if source == "measurements":
        item["metric"] = _key(raw.get("metric"), f"{path}.metric", errors)
    if kind == "share":
        item["threshold"] = _number(raw.get("threshold"), f"{path}.threshold", errors)
        item["threshold_direction"] = _choice(raw.get("threshold_direction"), f"{path}.threshold_direction",
                                              indicators.DIRECTIONS, errors)
    if kind == "percentile":
        item["percentile"] = _number(raw.get("percentile"), f"{path}.percentile", errors, minimum=0.0001, maximum=100)
    if kind == "count_per_subject" and raw.get("subjects") is not None:
        item["subjects"] = _subjects(raw.get("subjects"), f"{path}.subjects", errors)
    errors += [{"field": f"{path}.{k}", "message": "unknown or not used by this kind"}
               for k in sorted(set(raw) - set(item))]
    return item


# ---- field checks ---------------------------------------------------------------------------------

def text_field(value: Any, field: str, errors: list[dict[str, str]], *, limit: int = MAX_TEXT, required: bool = True) -> str:
    """The text, stripped; a failure is added to ``errors`` (all fields are checked before refusing)."""
    text = value.strip() if isinstance(value, str) else None
    if text is None or (required and not text) or len(text) > limit:
        errors.append({"field": field, "message": f"{'1' if required else '0'} to {limit} characters"})
        return ""
    return text


def _integer(value: Any, field: str, low: int, high: int, errors: list[dict[str, str]]) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors.append({"field": field, "message": f"a whole number from {low} to {high}"})
        return low
    return value


def _number(value: Any, field: str, errors: list[dict[str, str]], *, minimum: float | None = None,
            maximum: float | None = None) -> float | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        errors.append({"field": field, "message": "a number"})
        return None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        errors.append({"field": field, "message": f"from {minimum:g} to {maximum:g}" if maximum is not None else f"at least {minimum:g}"})
        return None
    return float(value)


def _choice(value: Any, field: str, choices: tuple[str, ...], errors: list[dict[str, str]]) -> str | None:
    if value not in choices:
        errors.append({"field": field, "message": f"one of {', '.join(choices)}"})
        return None
    return str(value)


def _key(value: Any, field: str, errors: list[dict[str, str]]) -> str | None:
    if not isinstance(value, str) or not _KEY.match(value):
        errors.append({"field": field, "message": "lowercase letters, digits and _, starting with a letter (at most 64)"})
        return None
    return value


def _subjects(value: Any, field: str, errors: list[dict[str, str]]) -> list[str]:
    if (not isinstance(value, list) or not 1 <= len(value) <= MAX_SUBJECTS or len(set(map(str, value))) != len(value)
            or not all(isinstance(s, str) and 0 < len(s.strip()) <= 200 for s in value)):
        errors.append({"field": field, "message": f"1 to {MAX_SUBJECTS} distinct names of at most 200 characters"})
        return []
    return [s.strip() for s in value]


def _provider(session: Session, community_id: int, member_id: Any, errors: list[dict[str, str]]) -> int:
    member = member_of(session, community_id, member_id, "provider")
    if member is None:
        errors.append({"field": "plan.provider_id", "message": "not a member of this community with the provider role"})
        return 0
    return member.id
