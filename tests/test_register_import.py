"""The community register in the engine: reading a register file (pure), ``ImportMembers`` (all rows in one
transaction, or none), ``IssueSignInCodes`` (letters: one transaction) and the register's read-query; both backends."""

from __future__ import annotations

import codecs

import pytest
from sqlalchemy import func, select

from engine.bootstrap import Engine
from engine.identity import members, register, register_import
from engine.identity.commands import ImportMembers, IssueSignInCode, IssueSignInCodes, SignIn
from engine.identity.models import Member
from engine.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from tests.helpers import Community

GOOD = "name,roles,household,area\n张阿姨,resident,3-402,\n王先生,resident owner,5-101,86.35\n李委员,committee resident,1-201,\n"


def lines_of(errors: list[dict]) -> list[tuple[int, str]]:
    return [(error["row"], error["field"]) for error in errors]


def count_members(deployed: Engine, community: Community) -> int:
    with deployed.read() as session:
        return session.scalar(select(func.count()).select_from(Member).where(Member.community_id == community.id))


# ---- reading a file (pure) ---------------------------------------------------------------------------------------

def test_the_template_reads_without_errors_and_roles_default_to_resident() -> None:
    preview = register_import.read(register_import.TEMPLATE.encode("utf-8-sig"))
    assert preview.encoding == "UTF-8 (BOM)" and preview.errors == []
    assert [(r.line, r.name, r.roles, r.household, r.area) for r in preview.rows] == [
        (2, "张阿姨", ("resident",), "3-402", None), (3, "王先生", ("owner", "resident"), "5-101", "86.35"),
        (4, "李委员", ("committee", "resident"), "1-201", None)]
    assert register_import.read(b"name\nZhang\n").rows[0].roles == ("resident",)


@pytest.mark.parametrize("encoding, name", [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 (BOM)"), ("gbk", "GBK"),
                                            ("gb18030", "GBK"), ("utf-16", "UTF-16")])
def test_excel_encodings_are_read_and_named(encoding: str, name: str) -> None:
    preview = register_import.read("姓名,角色,户号,面积\n张三,居民 业主,３－４０２,８６.３５㎡\n".encode(encoding))
    assert preview.encoding == name and preview.errors == []
    assert preview.rows[0] == register_import.ImportRow(2, "张三", ("owner", "resident"), "3-402", "86.35")


def test_every_row_error_is_listed_with_its_line() -> None:
    text = ("name,roles,household,area\n"
            ",resident,1-101,\n"                      # 2: no name
            "Bob,mayor,1-102,\n"                      # 3: unknown role
            "Carol,resident,1-103,-5\n"               # 4: bad area
            "Dan,resident,1-104,abc\n"                # 5: bad area
            "Eve,resident,1-105,\n"
            "eve ,resident,1-105,\n"                  # 7: same as line 6
            "Fay,resident,1-106,,extra\n"             # 8: too many cells
            "\n"
            "Gus,resident,1-107,0\n")                 # 10: zero area
    preview = register_import.read(text.encode())
    assert lines_of(preview.errors) == [(2, "name"), (3, "roles"), (4, "area"), (5, "area"), (7, "name"), (8, ""), (10, "area")]
    assert preview.errors[4]["message"] == "the same name and household as line 6"
    assert len(preview.rows) == 8 and preview.lines_with_errors == {2, 3, 4, 5, 7, 8, 10}


def test_members_already_in_the_community_are_errors() -> None:
    preview = register_import.read(GOOD.encode())
    checked = register_import.checked_against(preview, [register_import.member_key("王先生", "5-101")])
    assert lines_of(checked.errors) == [(3, "name")] and "already a member" in checked.errors[0]["message"]


def test_formula_cells_are_plain_text() -> None:
    preview = register_import.read(b"name,roles,household\n\"=cmd|' /C calc'!A0\",resident,@SUM(1)\n")
    assert preview.errors == [] and preview.rows[0].name == "=cmd|' /C calc'!A0" and preview.rows[0].household == "@SUM(1)"


@pytest.mark.parametrize("data, message", [
    (b"", "the file is empty"),
    (b"name,roles\n", "the file has no members"),
    (b"roles,household\nresident,1\n", "the header line must name"),
    (b"name,name\nA,B\n", "the header line must name"),
    (b"name,colour\nA,red\n", "the header line must name"),
    (b"name\n\"unclosed\n", "not a valid CSV file"),
    (b"name\nA\x00B\n", "NUL characters"),
    (b"\xff\xfe\xfd\x80\x81", "neither UTF-8 nor GBK"),
    (b"name\n" + b"x" * (register_import.MAX_BYTES + 1), "at most 262144 bytes"),
    (b"name\n" + b"a\n" * (register_import.MAX_ROWS + 1), "at most 2000 members"),
])
def test_a_file_that_cannot_be_read_is_refused_whole(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        register_import.read(data)


def test_the_roles_read_are_the_engines_roles() -> None:
    assert set(register_import.ROLE_ALIASES.values()) <= set(members.ROLES)
    from web.register.forms import ROLE_LABELS
    assert tuple(ROLE_LABELS) == members.ROLES


# ---- ImportMembers -----------------------------------------------------------------------------------------------

def test_a_dry_run_writes_nothing_and_an_import_adds_every_row(deployed: Engine, community: Community) -> None:
    before = count_members(deployed, community)
    preview = deployed.execute(ImportMembers(GOOD.encode(), dry_run=True), community["admin"])
    assert preview.members == [] and preview.preview.errors == [] and count_members(deployed, community) == before
    done = deployed.execute(ImportMembers(GOOD.encode(), sha256=preview.preview.sha256), community["admin"])
    assert [m.name for m in done.members] == ["张阿姨", "王先生", "李委员"]
    with deployed.read() as session:
        wang = session.scalars(select(Member).where(Member.name == "王先生")).one()
        assert (wang.community_id, wang.roles, wang.household, wang.area) == (community.id, ["owner", "resident"], "5-101", "86.35")
    with pytest.raises(InvalidInput) as again:  # the same file twice: every row is a member already
        deployed.execute(ImportMembers(GOOD.encode()), community["admin"])
    assert lines_of(again.value.details["errors"]) == [(2, "name"), (3, "name"), (4, "name")]


def test_one_bad_row_refuses_the_whole_file(deployed: Engine, community: Community) -> None:
    before = count_members(deployed, community)
    with pytest.raises(InvalidInput, match="1 lines of the file have errors") as refused:
        deployed.execute(ImportMembers((GOOD + "Zed,mayor,9-9,\n").encode()), community["admin"])
    assert lines_of(refused.value.details["errors"]) == [(5, "roles")]
    assert count_members(deployed, community) == before


def test_an_import_is_one_transaction(deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch) -> None:
    before = count_members(deployed, community)
    real, calls = members.add_member, []

    def failing(*args, **kwargs):  # the third member's insert fails after two were written
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)
    monkeypatch.setattr(members, "add_member", failing)
    with pytest.raises(RuntimeError):
        deployed.execute(ImportMembers(GOOD.encode()), community["admin"])
    assert count_members(deployed, community) == before


def test_a_file_other_than_the_one_previewed_is_refused(deployed: Engine, community: Community) -> None:
    sha = register_import.digest(GOOD.encode())
    with pytest.raises(Conflict, match="not the one previewed"):
        deployed.execute(ImportMembers((GOOD + "Zed,resident,9-9,\n").encode(), sha256=sha), community["admin"])


def test_only_an_admin_imports(deployed: Engine, community: Community) -> None:
    for who in ("chair", "clerk", "alice", "auditor"):
        with pytest.raises(PermissionDenied):
            deployed.execute(ImportMembers(GOOD.encode(), dry_run=True), community[who])


# ---- sign-in letters and the register ----------------------------------------------------------------------------

def test_letters_go_to_members_without_an_unused_code_in_one_command(deployed: Engine, community: Community) -> None:
    deployed.execute(IssueSignInCode(community["alice"].member_id), community["admin"])
    with deployed.read() as session:
        assert {e.member.name for e in register.entries(session, community["admin"], deployed.clock.now())
                if e.has_unused_code} == {"alice"}
    letters = deployed.execute(IssueSignInCodes(without_unused_code=True), community["admin"])
    assert sorted(letter.member.name for letter in letters) == sorted(set(community.actors) - {"alice"})
    assert len({letter.code for letter in letters}) == len(letters)
    with pytest.raises(InvalidInput, match="every member has an unused sign-in code"):
        deployed.execute(IssueSignInCodes(without_unused_code=True), community["admin"])
    bob = next(letter.code for letter in letters if letter.member.name == "bob")
    deployed.execute(SignIn(bob))
    with pytest.raises(Unauthenticated):
        deployed.execute(SignIn(bob))


def test_letters_for_chosen_members_replace_their_codes(deployed: Engine, community: Community,
                                                       other_community: Community) -> None:
    old = deployed.execute(IssueSignInCode(community["carol"].member_id), community["admin"])
    (letter,) = deployed.execute(IssueSignInCodes((community["carol"].member_id,) * 2), community["admin"])
    with pytest.raises(Unauthenticated):
        deployed.execute(SignIn(old))
    assert deployed.execute(SignIn(letter.code)).member_id == community["carol"].member_id
    with pytest.raises(NotFound):
        deployed.execute(IssueSignInCodes((community["carol"].member_id,)), other_community["admin"])
    with pytest.raises(PermissionDenied):
        deployed.execute(IssueSignInCodes((community["carol"].member_id,)), community["chair"])
    with pytest.raises(InvalidInput):
        deployed.execute(IssueSignInCodes(), community["admin"])


def test_a_letter_batch_with_another_communitys_member_issues_nothing(deployed: Engine, community: Community,
                                                                    other_community: Community) -> None:
    with pytest.raises(NotFound):
        deployed.execute(IssueSignInCodes((community["alice"].member_id, other_community["bob"].member_id)), community["admin"])
    with deployed.read() as session:
        assert not register.entry(session, community["admin"], deployed.clock.now(), community["alice"].member_id).has_unused_code


def test_the_register_is_searched_by_name_or_household_and_read_by_admins_only(deployed: Engine, community: Community) -> None:
    deployed.execute(ImportMembers("name,household\n张阿姨,3-402\nZhang Wei,7-101\n100%_x,1\n".encode()), community["admin"])
    with deployed.read() as session:
        now = deployed.clock.now()
        assert [e.member.name for e in register.entries(session, community["admin"], now, "3-40")] == ["张阿姨"]
        assert [e.member.name for e in register.entries(session, community["admin"], now, "zhang")] == ["Zhang Wei"]
        assert [e.member.name for e in register.entries(session, community["admin"], now, "%_")] == ["100%_x"]
        with pytest.raises(PermissionDenied):
            register.entries(session, community["alice"], now)


def test_the_letters_qr_code_carries_the_code_in_the_fragment_never_in_the_query() -> None:
    """A query reaches the server's and any proxy's access log; a fragment never leaves the browser."""
    from engine.identity.letters import sign_in_url
    url = sign_in_url("https://yishi.example.org/", "7K3QD-M9XWT")
    assert url == "https://yishi.example.org/sign-in#code=7K3QD-M9XWT"
