"""One way to refuse a vote's input, so every refusal carries the failing field in ``errors``."""

from __future__ import annotations

from typing import NoReturn

from engine.kernel.errors import InvalidInput


def refuse(field: str, message: str) -> NoReturn:
    raise InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])
