"""Task forms: JSON Schemas under ``processes/forms/``, frozen into each definition version.

A user task names its form with the extension property ``formSchema``. At deployment the schema
is read, checked and stored with the definition, so a running instance keeps validating against
the form it started with even after the file changes.

Beyond the standard formats, forms may use ``future-date-time``: an ISO 8601 date and time
(without an offset it is read in the community's time zone) that lies after the command's
moment. Deadlines use it, since a deadline in the past would fire the instant it is armed.
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from engine.kernel.errors import DefinitionError, InvalidInput

FORM_PROPERTY = "formSchema"


def load_form(forms_dir: Path, name: str, *, file: str, element_id: str) -> dict[str, Any]:
    """Read and check one form schema named by a task, refusing paths outside the forms folder."""
    root = forms_dir.resolve()
    path = (root / name).resolve()
    if root not in path.parents or path.suffix != ".json":
        raise DefinitionError(f"form {name!r} must be a .json file under the forms folder", file=file, element_id=element_id)
    if not path.is_file():
        raise DefinitionError(f"form {name!r} does not exist", file=file, element_id=element_id)
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
    except (ValueError, SchemaError) as exc:
        raise DefinitionError(f"form {name!r} is not a valid JSON Schema: {exc}", file=file, element_id=element_id) from exc
    return schema


def validate(schema: dict[str, Any] | None, data: Any, *, now: datetime, local_tz: tzinfo) -> None:
    """Check completion data against the task's form; every failing field is listed."""
    if schema is None:
        if data:
            raise InvalidInput("this task has no form and takes no data", errors=[{"field": "", "message": "no data expected"}])
        return
    validator = Draft202012Validator(schema, format_checker=_format_checker(now, local_tz))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise InvalidInput(
            f"the form data is invalid ({len(errors)} error{'s' if len(errors) > 1 else ''})",
            errors=[{"field": _field(e), "message": e.message} for e in errors],
        )


def _format_checker(now: datetime, local_tz: tzinfo) -> FormatChecker:
    checker = FormatChecker()

    @checker.checks("future-date-time", raises=ValueError)
    def future(value: object) -> bool:
        if not isinstance(value, str):
            return True
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=local_tz)
        if moment <= now:
            raise ValueError(f"{value} is not in the future")
        return True

    return checker


def _field(error: Any) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return f"{path}.{missing}" if path else missing
    if error.validator == "additionalProperties" and "'" in error.message:
        extra = error.message.split("'")[1]
        return f"{path}.{extra}" if path else extra
    return path
