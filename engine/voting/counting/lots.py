"""The lot that breaks a tie no rule can: an order anyone can recompute from the vote's seed.

Each option's ticket is ``sha256(seed + option id)`` over UTF-8, in hex; tickets sort from lowest
to highest and the lowest is favoured: it wins a tie for first place, ranks first among equals,
and survives a tie for elimination (the highest ticket is eliminated). The seed is fixed by the
vote's configuration (its id, or the bulletin board's root hash), so the lot cannot be redrawn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

RULE = "sha256(seed + option id), lowest ticket favoured"


def ticket(seed: str, option: str) -> str:
    return hashlib.sha256((seed + option).encode("utf-8")).hexdigest()


def lot_order(seed: str, options: Iterable[str]) -> list[str]:
    """The options from most to least favoured by the lot."""
    return sorted(options, key=lambda option: ticket(seed, option))


def drawing(seed: str, options: Iterable[str]) -> dict[str, Any]:
    """The lot as published: seed, every ticket and the order they give, so a reader can check it."""
    order = lot_order(seed, options)
    return {"rule": RULE, "seed": seed, "tickets": {option: ticket(seed, option) for option in order}, "order": order}
