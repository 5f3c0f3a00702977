"""Errors the engine raises, one class per kind of failure a caller must handle differently.

The engine knows nothing of HTTP; the API maps each class to a status code (see ``api/errors.py``).
Every error carries a stable machine-readable ``code`` and a human message; ``details`` holds
structured context (failing fields, the element and line of a bad definition, …).
"""

from __future__ import annotations

from typing import Any


class YishiError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = {k: v for k, v in details.items() if v is not None}


class NotFound(YishiError):
    """The thing does not exist, or exists in a community the caller cannot see."""

    code = "not_found"


class PermissionDenied(YishiError):
    """The caller can see the thing but their role does not allow the action."""

    code = "forbidden"


class Unauthenticated(YishiError):
    """No valid credentials were presented."""

    code = "unauthenticated"


class Conflict(YishiError):
    """The action does not fit the current state (task no longer ready, concurrent change, …)."""

    code = "conflict"


class LostRace(Conflict):
    """A concurrent command wrote the same row first (a unique constraint said so), and nothing of this one was
    written. The bus runs the command once more, on what the other wrote: a retry sent twice at once (the same
    idempotency key) then answers as the first did, and anything else gets the refusal the state now calls for."""


class InvalidInput(YishiError):
    """The input is malformed or fails validation; ``details['errors']`` lists each failing field."""

    code = "invalid_input"


class DefinitionError(InvalidInput):
    """A process definition cannot be deployed: bad XML, unsafe XML, unknown or unsupported elements.

    ``details`` names the ``file``, the ``element_id`` and the ``line`` where they are known.
    """

    code = "invalid_definition"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        element_id: str | None = None,
        line: int | None = None,
        **details: Any,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                f"element {element_id}" if element_id else "",
                f"line {line}" if line else "",
            )
            if part
        )
        super().__init__(
            f"{message} ({where})" if where else message,
            file=file,
            element_id=element_id,
            line=line,
            **details,
        )


class ScriptError(YishiError):
    """A script, condition or expression in a definition failed or was refused by the sandbox."""

    code = "script_error"


class StaleVersion(Conflict):
    """The change was made against an older text than the one it would apply to (an amendment to an
    article that has changed since the version its author read); ``details`` give the current text."""

    code = "stale_version"
