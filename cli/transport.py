"""How the device clients (``yishi trustee``, ``yishi ballot``) talk to a Yishi server: JSON over HTTP(S) with the
member's API token, through one small seam (``Transport``) that tests fill with the Flask test client.

Everything that can go wrong on the way — the server refusing (any status but the expected ones), an address that
does not answer, a connection cut, an answer that is not JSON — becomes one ``click.ClickException``: one line,
exit code 1. The token is sent in the ``Authorization`` header only and never appears in a message.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any, Protocol

import click

TIMEOUT_SECONDS = 60


class Transport(Protocol):
    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, decoded JSON body or None) for ``method`` on the API ``path`` (starting with /api/)."""


class HttpTransport:
    """The API over HTTP(S) with the member's bearer token (standard library only: a device needs nothing more)."""

    def __init__(self, server: str, token: str) -> None:
        self.server, self.token = server.rstrip("/"), token

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/json",
            **({"Content-Type": "application/json"} if data is not None else {})})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - the configured server
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except urllib.error.URLError as exc:
            raise click.ClickException(f"cannot reach {self.server}: {exc.reason}") from exc
        except (OSError, http.client.HTTPException) as exc:  # a timeout, a connection reset, a truncated answer
            raise click.ClickException(f"the connection to {self.server} failed: {exc or type(exc).__name__}") from exc
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None


def call(transport: Transport, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201)) -> Any:
    """The decoded answer when its status is one of ``ok``; otherwise the server's refusal as a one-line error."""
    status, answer = transport.request(method, path, body)
    if status not in ok:
        raise click.ClickException(f"the server answered {status}: {refusal(answer)}")
    return answer


def refusal(answer: Any) -> str:
    """The message of the API's error shape (api/errors.py), on one line; what else came back, said briefly."""
    error = answer.get("error") if isinstance(answer, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str):
        return "no error message (is this a Yishi server?)" if answer is None else " ".join(str(answer)[:200].split())
    return " ".join(message.split())
