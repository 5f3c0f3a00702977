"""The table of signed checkpoints: a Merkle root over every chain head, signed with the audit key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from engine.kernel.models import Base


class Checkpoint(Base):
    """A signed statement of every instance's chain head at one moment (a Merkle root over them).

    Whoever rewrites a history afterwards, recomputing every hash, still disagrees with it.
    """

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200))
    heads: Mapped[list[Any]]
    """[[community id, instance id, seq, hash], …] in instance-id order: the Merkle tree's leaves."""
    root: Mapped[str] = mapped_column(String(64))
    previous: Mapped[str] = mapped_column(String(64))
    """The hash of the previous checkpoint's signed statement: checkpoints chain too."""
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
