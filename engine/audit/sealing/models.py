"""The table of signed checkpoints: a Merkle root over every chain head, signed with the audit key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from engine.kernel.models import Base


class Checkpoint(Base):
    """A signed statement of every instance's chain head at one moment (a Merkle root over them).

    Whoever rewrites a history afterwards, recomputing every hash, still disagrees with it. The
    tree's shape is the ``format``'s (``engine.audit.sealing.checkpoints``).
    """

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    format: Mapped[int] = mapped_column(server_default="1")
    """1: one tree over every head, its size signed; 2: a tree per community under a blinded one."""
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200))
    heads: Mapped[list[Any]]
    """[[community id, instance id, seq, hash], …] in instance-id order: the Merkle tree's leaves."""
    root: Mapped[str] = mapped_column(String(64))
    previous: Mapped[str] = mapped_column(String(64))
    """The hash of the previous checkpoint's signed statement: checkpoints chain too."""
    communities: Mapped[list[Any] | None]
    """Format 2: the id of every community at signing time, each a leaf even without instances."""
    blinding: Mapped[str | None] = mapped_column(String(64))
    """Format 2: the secret the community leaves' nonces and the empty subtrees derive from; never shown."""
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
