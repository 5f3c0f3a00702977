"""Sign-in without passwords, in the engine: one-time codes issued by an admin, exchanged for web sessions."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.bootstrap import Engine
from engine.identity import sign_in
from engine.identity.commands import IssueSignInCode, RevokeSessions, SignIn, SignOut, TouchWebSession
from engine.identity.models import SignInCode, WebSession
from engine.kernel.clock import ManualClock
from engine.kernel.errors import NotFound, PermissionDenied, Unauthenticated
from tests.helpers import Community, at_once

CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}")


def member_of(deployed: Engine, token: str) -> str:
    with deployed.db.autocommit() as connection:
        return sign_in.authenticate(connection, token, deployed.clock.now()).actor.name


def issue(deployed: Engine, community: Community, name: str) -> str:
    return deployed.execute(IssueSignInCode(community[name].member_id), community["admin"])


def test_an_admin_issues_a_printable_code_that_opens_a_session_once(deployed: Engine, community: Community) -> None:
    code = issue(deployed, community, "alice")
    assert CODE.fullmatch(code)
    opened = deployed.execute(SignIn(code))
    assert opened.member_id == community["alice"].member_id and opened.token.startswith("yw_")
    assert member_of(deployed, opened.token) == "alice"
    with pytest.raises(Unauthenticated, match="unknown, already used or expired"):
        deployed.execute(SignIn(code))


def test_only_hashes_are_stored(deployed: Engine, community: Community) -> None:
    code = issue(deployed, community, "alice")
    token = deployed.execute(SignIn(code)).token
    plain = code.replace("-", "")
    with deployed.read() as session:
        (stored,) = session.scalars(select(SignInCode.code_hash)).all()
        (session_hash,) = session.scalars(select(WebSession.token_hash)).all()
    assert plain not in stored and stored != hashlib.sha256(plain.encode()).hexdigest()  # keyed: no offline search
    assert session_hash == hashlib.sha256(token.encode()).hexdigest() and token not in session_hash


def test_a_code_is_read_as_a_person_types_it(deployed: Engine, community: Community) -> None:
    code = issue(deployed, community, "bob")
    typed = f"  {code[:3].lower()} {code[3:]}  ".replace("0", "o").replace("1", "l")
    assert member_of(deployed, deployed.execute(SignIn(typed)).token) == "bob"


@pytest.mark.parametrize("typed", ["", "ABCDE-FGHJK", "ABCDE", "ABCDE-FGHJK-MNPQR", "UUUUU-UUUUU", "<script>"])
def test_unknown_and_malformed_codes_get_the_same_refusal(deployed: Engine, community: Community, typed: str) -> None:
    with pytest.raises(Unauthenticated, match=re.escape(sign_in.REFUSED)):
        deployed.execute(SignIn(typed))


def test_a_code_expires(deployed: Engine, community: Community, clock: ManualClock) -> None:
    code = issue(deployed, community, "alice")
    clock.advance(sign_in.CODE_LIFETIME)
    with pytest.raises(Unauthenticated, match=re.escape(sign_in.REFUSED)):
        deployed.execute(SignIn(code))


def test_a_new_code_replaces_the_unused_one(deployed: Engine, community: Community) -> None:
    first = issue(deployed, community, "alice")
    second = issue(deployed, community, "alice")
    with pytest.raises(Unauthenticated):
        deployed.execute(SignIn(first))
    assert member_of(deployed, deployed.execute(SignIn(second)).token) == "alice"


def test_only_an_admin_of_the_members_community_issues_codes(deployed: Engine, community: Community,
                                                             other_community: Community) -> None:
    with pytest.raises(PermissionDenied):
        deployed.execute(IssueSignInCode(community["bob"].member_id), community["alice"])
    with pytest.raises(NotFound):
        deployed.execute(IssueSignInCode(community["bob"].member_id), other_community["admin"])


def test_concurrent_redemptions_of_one_code_open_exactly_one_session(deployed: Engine, community: Community) -> None:
    code = issue(deployed, community, "carol")
    outcomes = at_once([lambda: deployed.execute(SignIn(code)) for _ in range(6)])
    opened = [o for o in outcomes if isinstance(o, sign_in.OpenedSession)]
    refused = [o for o in outcomes if isinstance(o, Unauthenticated)]
    assert len(opened) == 1 and len(refused) == 5, outcomes
    with deployed.read() as session:
        assert session.scalars(select(WebSession.member_id)).all() == [community["carol"].member_id]


def test_signing_out_ends_the_session(deployed: Engine, community: Community) -> None:
    token = deployed.execute(SignIn(issue(deployed, community, "alice"))).token
    assert deployed.execute(SignOut(token)) is True
    with pytest.raises(Unauthenticated, match="sign in again"):
        member_of(deployed, token)
    assert deployed.execute(SignOut(token)) is False


def test_a_session_ends_unless_used_and_lives_on_while_used(deployed: Engine, community: Community,
                                                            clock: ManualClock) -> None:
    kept = deployed.execute(SignIn(issue(deployed, community, "alice"))).token
    idle = deployed.execute(SignIn(issue(deployed, community, "bob"))).token
    clock.advance(sign_in.SESSION_LIFETIME - timedelta(days=1))
    deployed.execute(TouchWebSession(kept))
    clock.advance(timedelta(days=2))
    assert member_of(deployed, kept) == "alice"
    with pytest.raises(Unauthenticated):
        member_of(deployed, idle)
    with deployed.db.autocommit() as connection:
        assert sign_in.authenticate(connection, kept, clock.now()).last_seen_at == clock.now() - timedelta(days=2)


def test_revoking_a_members_sessions(deployed: Engine, community: Community, other_community: Community) -> None:
    tokens = [deployed.execute(SignIn(issue(deployed, community, "alice"))).token for _ in range(2)]
    bobs = deployed.execute(SignIn(issue(deployed, community, "bob"))).token
    with pytest.raises(PermissionDenied):
        deployed.execute(RevokeSessions(community["alice"].member_id), community["bob"])
    with pytest.raises(NotFound):
        deployed.execute(RevokeSessions(community["alice"].member_id), other_community["admin"])
    assert deployed.execute(RevokeSessions(community["alice"].member_id), community["admin"]) == 2
    for token in tokens:
        with pytest.raises(Unauthenticated):
            member_of(deployed, token)
    assert member_of(deployed, bobs) == "bob"
    assert deployed.execute(RevokeSessions(community["bob"].member_id), community["bob"]) == 1


def test_a_seeded_community_gets_codes_in_the_same_command(deployed: Engine) -> None:
    from tests.helpers import make_community
    seeded = make_community(deployed, "lakeside", sign_in_codes=True)
    assert set(seeded.codes) == set(seeded.actors) and all(CODE.fullmatch(c) for c in seeded.codes.values())
    assert member_of(deployed, deployed.execute(SignIn(seeded.codes["chair"])).token) == "chair"


def test_yishi_demo_prints_a_token_and_a_sign_in_code_for_each_member(database_url: str, tmp_path) -> None:
    from click.testing import CliRunner

    from cli import main
    from cli.admin import DEMO_MEMBERS
    from engine.bootstrap import EngineConfig
    from engine.kernel.db import Database

    key = tmp_path / "demo-key.pem"
    done = CliRunner().invoke(main, ["--database", database_url, "--audit-key", str(key), "demo"])
    assert done.exit_code == 0, done.output
    lines = [line for line in done.output.splitlines() if line.startswith("  ")]
    assert len(lines) == len(DEMO_MEMBERS)
    codes = [CODE.search(line) for line in lines]
    assert all(codes) and all("ys_" in line for line in lines)
    engine = Engine(Database(database_url), config=EngineConfig(audit_key=key))  # another process: the same key
    try:
        opened = engine.execute(SignIn(codes[0].group()))
        with engine.db.autocommit() as connection:
            assert sign_in.authenticate(connection, opened.token, engine.clock.now()).actor.name == DEMO_MEMBERS[0][0]
    finally:
        engine.db.dispose()
