"""What the device clients (``yishi trustee``, ``yishi ballot``) keep on disk: one file per vote under the user's
home for the client, readable by its owner only, written whole or not at all."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import click

VOTE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")
"""A vote id as the server makes them; anything else could name another file here, or another route there."""


def checked_vote_id(vote_id: str) -> str:
    if not VOTE_ID.fullmatch(vote_id):
        raise click.ClickException(f"not a vote id: {vote_id!r}")
    return vote_id


def vote_file(home: Path, vote_id: str, suffix: str) -> Path:
    return home / f"{checked_vote_id(vote_id)}.{suffix}"


def write_private(path: Path, document: Any) -> None:
    """Mode 0600 in a 0700 directory, through a temporary file fsynced and renamed over the old one: a crash
    leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(document, file, indent=1)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
