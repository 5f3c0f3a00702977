"""The voter-key rule says the same in Python and in SQL, on both databases, for every kind of caller."""

from __future__ import annotations

import itertools

from sqlalchemy import Integer, String, create_engine, literal, select

from engine.voting.voter_keys import voter_key, voter_key_sql

CASES = list(itertools.product(("residents", "households", "owners"), (7, 1234567), (None, "", "3-201", "楼2-1"), (True, False)))


def test_python_and_sql_agree(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            for basis, member_id, household, resident in CASES:
                expected = voter_key(basis, member_id, household, resident)
                # The SQL callers pass no household for a caller who is not a resident.
                sql = voter_key_sql(literal(basis, String), literal(member_id, Integer), literal(household if resident else None, String))
                assert connection.execute(select(sql)).scalar_one() == expected, (basis, member_id, household, resident)
    finally:
        engine.dispose()


def test_a_household_vote_needs_a_resident_with_a_household() -> None:
    assert voter_key("households", 7, "3-201", resident=True) == "h:3-201"
    assert voter_key("households", 7, "3-201", resident=False) is None
    assert voter_key("households", 7, "", resident=True) is None
    assert voter_key("owners", 7, "3-201", resident=False) == "m:7"
