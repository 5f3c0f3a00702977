"""Who a caller votes as: the one voter-key rule, said in Python and in SQL.

A caller votes as themselves (``m:<member id>``) or, in a vote by households, as their household
(``h:<household>``), which only a resident with a household may vote for. The ballot's prebuilt
statements need the rule in SQL (``voter_key_sql``); everything else asks ``voter_key``.
``tests/test_voter_keys.py`` checks on both databases that the two say the same for every case.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, case, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement


def voter_key(basis: str, member_id: int, household: str | None, resident: bool) -> str | None:
    """The caller's key in a vote of this ``basis``; None: a household vote finds them without a household they may vote for."""
    if basis == "households":
        return f"h:{household}" if household and resident else None
    return f"m:{member_id}"


def voter_key_sql(basis: Any, member_id: Any, household: Any) -> ColumnElement[str]:
    """``voter_key`` in SQL, given expressions for the basis, the member id and the household; the caller
    passes a NULL household for a caller who is not a resident (SQL cannot read the JSON list of roles portably)."""
    return case(
        (basis == "households", literal("h:", String) + func.nullif(household, "", type_=String)),
        else_=literal("m:", String) + cast(member_id, String),
    )
