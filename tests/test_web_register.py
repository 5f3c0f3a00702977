"""The community register's pages (admins): the list, adding a member, a member's sign-in code and sessions, the
register file's import (preview, then all rows or none), and sign-in letters as PDF."""

from __future__ import annotations

import base64
import io
import re
import zlib
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.bootstrap import Engine
from engine.identity.commands import AddMember, SignIn
from engine.identity.models import Member
from engine.kernel.errors import Unauthenticated
from tests.pages import Page, Pages, pages_for

pytestmark = pytest.mark.pages

GOOD = "name,roles,household,area\n张阿姨,resident,3-402,\n王先生,resident owner,5-101,86.35\n李委员,committee resident,1-201,\n"
CODE = re.compile(rb"\(([0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5})\)")


@pytest.fixture
def admin(deployed: Engine, neighbours: Any) -> Pages:
    return pages_for(deployed, neighbours, "admin")


def names(deployed: Engine, community_id: int) -> list[str]:
    with deployed.read() as session:
        return list(session.scalars(select(Member.name).where(Member.community_id == community_id).order_by(Member.id)))


def upload(browser: Pages, data: bytes, filename: str = "register.csv") -> Page:
    browser.get("/register/import")
    return browser.post("/register/import", {"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def confirm_fields(page: Page) -> dict[str, str]:
    form = page.tree.xpath("//form[contains(@action, '/register/import/confirm')]")[0]
    return {i.get("name"): i.get("value") for i in form.xpath(".//input")}


def pdf_codes(pdf: bytes) -> list[str]:
    """The codes printed in a PDF: its page streams inflated (ASCII85, then Flate, as reportlab writes them)."""
    text = b""
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        stream = stream.strip()
        if stream.endswith(b"~>"):
            stream = base64.a85decode(stream[:-2].replace(b"\n", b""))
        try:
            text += zlib.decompress(stream)
        except zlib.error:
            continue
    return [code.decode() for code in CODE.findall(text)]


# ---- the register and who may see it -------------------------------------------------------------------------------

def test_an_admin_sees_the_register_in_chinese_and_searches_it(deployed: Engine, neighbours: Any) -> None:
    deployed.execute(AddMember("王先生", ["owner", "resident"], "5-101", "86.35"), neighbours["admin"])
    browser = pages_for(deployed, neighbours, "admin", "zh_CN")
    page = browser.get("/register")
    assert page.status == 200 and page.texts("//h1") == ["社区名册"]
    rows = page.texts("//table[@class='register-table']/tbody/tr")
    assert len(rows) == 8 and any("王先生" in r and "业主" in r and "5-101" in r and "86.35" in r for r in rows)
    assert "社区名册" in page.texts("//header//a") or "名册" in " ".join(page.texts("//header//a"))
    found = browser.get("/register?q=5-10")
    assert [r.split()[0] for r in found.texts("//table[@class='register-table']/tbody/tr")] == ["王先生"]
    assert browser.get("/register?q=" + "x" * 100_000).status == 200
    assert browser.get("/register?q=%00").status == 200


@pytest.mark.parametrize("who", ["chair", "clerk", "alice", "auditor"])
def test_members_without_the_admin_role_get_403(deployed: Engine, neighbours: Any, who: str) -> None:
    browser = pages_for(deployed, neighbours, who)
    for url in ("/register", "/register/add", "/register/import", "/register/letters",
                f"/register/members/{neighbours['alice'].member_id}", "/register/import/template.csv"):
        assert browser.get(url).status == 403, url
    assert "Register" not in browser.get("/home").texts("//header//a")


def test_a_visitor_is_sent_to_sign_in(deployed: Engine) -> None:
    assert Pages(deployed).get("/register").location == "/sign-in?next=/register"


def test_another_communitys_member_is_not_found(deployed: Engine, neighbours: Any) -> None:
    from tests.helpers import make_community
    other = make_community(deployed, "riverside", sign_in_codes=True)
    browser = pages_for(deployed, other, "admin")
    assert browser.get(f"/register/members/{neighbours['alice'].member_id}").status == 404
    assert browser.get("/register/members/99999999999999999999").status == 404
    browser.get("/register")
    assert browser.post(f"/register/members/{neighbours['alice'].member_id}/code").status == 404
    assert browser.post("/register/letters", {"who": "chosen", "member_ids": neighbours["alice"].member_id}).status == 404
    assert f"/register/members/{neighbours['alice'].member_id}\"" not in browser.get("/register").text


# ---- adding a member -----------------------------------------------------------------------------------------------

def test_adding_a_member_with_bad_input_shows_each_error_beside_its_field(admin: Pages, deployed: Engine, neighbours: Any) -> None:
    admin.get("/register/add")
    page = admin.post("/register/add", {"name": "  ", "household": "h" * 101, "area": "-3"})
    assert page.status == 422
    assert page.field_errors() == {"name": ["Enter the member's name"], "roles": ["Choose at least one role"],
                                   "household": ["A household has at most 100 characters"],
                                   "area": ["Write the area as a number, for example 86.35"]}
    assert page.tree.xpath("//div[@class='error-summary']//a/@href") == ["#name", "#roles", "#household", "#area"]
    page = admin.post("/register/add", {"name": "x" * 100_000, "roles": ["mayor"]})
    assert page.status == 422 and set(page.field_errors()) == {"name", "roles"}
    nul = admin.post("/register/add", {"name": "A\x00B", "roles": ["resident"], "household": "1\x07"})
    assert nul.status == 422 and set(nul.field_errors()) == {"name", "household"}
    assert len(names(deployed, neighbours.id)) == 7


def test_adding_a_member_and_issuing_their_code_once(admin: Pages, deployed: Engine, neighbours: Any) -> None:
    admin.get("/register/add")
    added = admin.post("/register/add", {"name": "<b>刘阿姨</b>", "roles": ["resident", "owner"], "household": "2-301", "area": "72.5"})
    assert added.status == 302 and "added=1" in added.location
    page = admin.get(added.location)
    assert page.texts("//h1") == ["<b>刘阿姨</b>"] and "No unused code" in page.text
    with deployed.read() as session:
        member = session.scalars(select(Member).where(Member.name == "<b>刘阿姨</b>")).one()
        assert (member.roles, member.household, member.area) == (["owner", "resident"], "2-301", "72.5")
        member_id = member.id
    shown = admin.post(f"/register/members/{member_id}/code")
    assert shown.status == 200 and shown.headers["Cache-Control"] == "no-store"
    (code,) = shown.texts("//p[@class='register-code__value']")
    assert "An unused code, valid until" in shown.text
    assert code not in admin.get(f"/register/members/{member_id}").text  # shown once
    assert deployed.execute(SignIn(code)).member_id == member_id


def test_revoking_a_members_sessions(admin: Pages, deployed: Engine, neighbours: Any) -> None:
    alice = pages_for(deployed, neighbours, "alice")
    assert alice.get("/home").status == 200
    page = admin.get(f"/register/members/{neighbours['alice'].member_id}")
    assert "1 live web sessions" in page.text
    done = admin.post(f"/register/members/{neighbours['alice'].member_id}/sessions")
    assert done.status == 302 and "revoked=1" in done.location
    assert "1 web sessions ended." in admin.get(done.location).text
    assert alice.get("/home").status == 302


def test_forms_without_their_csrf_token_are_refused(admin: Pages, deployed: Engine, neighbours: Any) -> None:
    alice = neighbours["alice"].member_id
    admin.get("/register")
    assert admin.post("/register/add", {"name": "X", "roles": ["resident"]}, csrf=False).status == 400
    assert admin.post(f"/register/members/{alice}/code", csrf=False).status == 400
    assert admin.post(f"/register/members/{alice}/sessions", csrf=False).status == 400
    assert admin.post("/register/import", {"file": (io.BytesIO(GOOD.encode()), "r.csv")}, csrf=False,
                      content_type="multipart/form-data").status == 400
    assert admin.post("/register/letters", {"who": "without"}, csrf=False).status == 400
    fields = confirm_fields(upload(admin, GOOD.encode()))
    del fields["csrf_token"]
    assert admin.post("/register/import/confirm", fields, csrf=False).status == 400
    assert len(names(deployed, neighbours.id)) == 7


# ---- importing a register file -------------------------------------------------------------------------------------

def test_the_preview_lists_every_row_and_every_error_with_its_line_and_offers_no_import(admin: Pages, deployed: Engine,
                                                                                     neighbours: Any) -> None:
    data = (GOOD + ",resident,9-1,\nZed,mayor,9-2,abc\n王先生,resident,5-101,\nalice,resident,,\n").encode()
    page = upload(admin, data)
    assert page.status == 422
    assert page.texts("//table[@class='register-table']/tbody/tr/th") == ["2", "3", "4", "5", "6", "7", "8"]
    errors = page.texts("//ul[@class='register-errors']/li")
    assert errors == ["Line 5 name: enter a name", "Line 6 roles: unknown role: mayor",
                      "Line 6 area: not a positive number of m² with at most 4 decimals, e.g. 86.35",
                      "Line 7 name: the same name and household as line 3",
                      "Line 8 name: already a member with this name and household"]
    assert page.tree.xpath("//ul[@class='register-errors']/li/a/@href")[0] == "#line-5"
    assert not page.tree.xpath("//form[contains(@action, '/register/import/confirm')]")
    assert len(names(deployed, neighbours.id)) == 7


@pytest.mark.both_backends
def test_a_good_file_imports_every_row_at_once(admin: Pages, deployed: Engine, neighbours: Any) -> None:
    page = upload(admin, GOOD.encode())
    assert page.status == 200 and "UTF-8" in page.texts("//dl[@class='summary']/dd")
    assert page.texts("//form[contains(@action, 'confirm')]//button") == ["Import 3 members"]
    assert len(names(deployed, neighbours.id)) == 7  # nothing written by the preview
    done = admin.post("/register/import/confirm", confirm_fields(page))
    assert done.status == 302 and done.location == "/register?imported=3"
    assert names(deployed, neighbours.id)[7:] == ["张阿姨", "王先生", "李委员"]
    assert "3 members imported" in admin.get(done.location).text
    again = admin.post("/register/import/confirm", confirm_fields(page))  # a double submission
    assert again.status == 422 and len(names(deployed, neighbours.id)) == 10
    assert "already a member" in again.text


def test_a_file_made_bad_between_preview_and_confirm_imports_nothing(admin: Pages, deployed: Engine, neighbours: Any) -> None:
    page = upload(admin, GOOD.encode())
    deployed.execute(AddMember("李委员", ["committee"], "1-201"), neighbours["admin"])  # meanwhile
    refused = admin.post("/register/import/confirm", confirm_fields(page))
    assert refused.status == 422 and "no member was imported" in refused.text
    assert refused.texts("//ul[@class='register-errors']/li") == ["Line 4 name: already a member with this name and household"]
    assert names(deployed, neighbours.id)[7:] == ["李委员"]


@pytest.mark.parametrize("tamper", ["data", "sha256", "signature"])
def test_a_file_changed_between_preview_and_confirm_is_refused(admin: Pages, deployed: Engine, neighbours: Any,
                                                               tamper: str) -> None:
    page = upload(admin, GOOD.encode())
    fields = confirm_fields(page)
    changed = (GOOD + "Mallory,admin,6-6,\n").encode()
    if tamper == "data":
        fields["csv_data"] = base64.b64encode(changed).decode()
    elif tamper == "sha256":
        import hashlib
        fields["csv_data"] = base64.b64encode(changed).decode()
        fields["sha256"] = hashlib.sha256(changed).hexdigest()
    else:
        fields["signature"] = "0" * 64
    refused = admin.post("/register/import/confirm", fields)
    assert refused.status == 409 and "not the one you previewed" in refused.text
    assert len(names(deployed, neighbours.id)) == 7
    assert admin.post("/register/import/confirm", {**fields, "csv_data": "!!not base64"}).status == 409


def test_a_confirm_from_another_admin_is_refused(admin: Pages, deployed: Engine, neighbours: Any) -> None:
    fields = confirm_fields(upload(admin, GOOD.encode()))
    deployed.execute(AddMember("second admin", ["admin"]), neighbours["admin"])
    from engine.identity.commands import IssueSignInCode
    with deployed.read() as session:
        second = session.scalars(select(Member.id).where(Member.name == "second admin")).one()
    other = Pages(deployed)
    other.sign_in(deployed.execute(IssueSignInCode(second), neighbours["admin"]))
    other.get("/register/import")
    assert other.post("/register/import/confirm", {k: v for k, v in fields.items() if k != "csrf_token"}).status == 409


def test_formula_cells_are_plain_text_shown_escaped(admin: Pages, deployed: Engine, neighbours: Any) -> None:
    data = b"name,roles,household\n\"=cmd|' /C calc'!A0\",resident,<script>alert(1)</script>\n"
    page = upload(admin, data)
    assert page.status == 200
    assert page.texts("//table[@class='register-table']/tbody/tr/td[1]") == ["=cmd|' /C calc'!A0"]
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    assert admin.post("/register/import/confirm", confirm_fields(page)).status == 302
    assert names(deployed, neighbours.id)[-1] == "=cmd|' /C calc'!A0"


def test_gbk_and_bom_files_are_read_and_their_encoding_named(admin: Pages, deployed: Engine, neighbours: Any) -> None:
    text = "姓名,角色,户号,面积\n张三,居民 业主,３－４０２,86.35\n"
    gbk = upload(admin, text.encode("gbk"))
    assert gbk.status == 200 and "GBK" in gbk.texts("//dl[@class='summary']/dd")
    assert gbk.texts("//table[@class='register-table']/tbody/tr/td[1]") == ["张三"]
    bom = upload(admin, text.encode("utf-8-sig"))
    assert bom.status == 200 and "UTF-8 (BOM)" in bom.texts("//dl[@class='summary']/dd")
    assert admin.post("/register/import/confirm", confirm_fields(gbk)).status == 302
    assert names(deployed, neighbours.id)[-1] == "张三"


@pytest.mark.parametrize("data, status, error", [
    (b"x" * (10 * 1024 * 1024), 413, "larger than 256 KB"),
    (b"name\n" + b"x" * (300 * 1024), 422, "at most 262144 bytes"),
    (b"", 422, "Choose the register file to upload"),
    (b"\x00\x01\x02binary", 422, "NUL characters"),
    (b"colour\nred\n", 422, "Line 1: colour — unknown column"),
])
def test_files_that_cannot_be_read_come_back_to_the_upload_page(admin: Pages, data: bytes, status: int, error: str) -> None:
    page = upload(admin, data)
    assert page.status == status and any(error in e for e in page.field_errors().get("file", [])), page.field_errors()


def test_the_template_downloads_and_imports(admin: Pages) -> None:
    response = admin.client.get("/register/import/template.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbfname,roles,household,area")
    assert upload(admin, response.data).status == 200


def test_the_import_page_says_its_limits_in_chinese(deployed: Engine, neighbours: Any) -> None:
    page = pages_for(deployed, neighbours, "admin", "zh_CN").get("/register/import")
    assert page.texts("//h1") == ["导入名册文件"]
    assert "256" in page.text and "2000" in page.text and "GBK" in page.text


# ---- sign-in letters -------------------------------------------------------------------------------------------------

def test_letters_for_members_without_an_unused_code_are_one_pdf_page_each_and_each_code_signs_in_once(
        admin: Pages, deployed: Engine, neighbours: Any) -> None:
    deployed.execute(AddMember("王先生", ["resident"], "5-101"), neighbours["admin"])
    deployed.execute(AddMember("刘同学", ["resident"]), neighbours["admin"])
    page = admin.get("/register/letters")
    assert "Printing issues new codes." in page.text and "old unused code stops working" in page.text
    response = admin.client.post("/register/letters", data={"csrf_token": page.csrf, "who": "without"})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    pdf = response.data
    # the new members, and the admin, whose code was spent signing in
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type /Page[^s]", pdf)) == 3
    codes = pdf_codes(pdf)
    assert len(codes) == 3
    again = admin.post("/register/letters", {"who": "without"}, from_page="/register/letters")
    assert again.status == 422 and "every member has an unused sign-in code" in again.text
    signed = [deployed.execute(SignIn(code)).member_id for code in codes]
    with deployed.read() as session:
        assert sorted(session.scalars(select(Member.name).where(Member.id.in_(signed)))) == ["admin", "刘同学", "王先生"]
    for code in codes:
        with pytest.raises(Unauthenticated):
            deployed.execute(SignIn(code))


def test_letters_for_chosen_members_replace_their_old_codes(admin: Pages, deployed: Engine, neighbours: Any) -> None:
    page = admin.get("/register/letters")
    chosen = [neighbours["bob"].member_id, neighbours["carol"].member_id]
    response = admin.client.post("/register/letters", data={"csrf_token": page.csrf, "who": "chosen", "member_ids": chosen})
    assert response.status_code == 200 and len(re.findall(rb"/Type /Page[^s]", response.data)) == 2
    with pytest.raises(Unauthenticated):  # the codes the fixture issued no longer work
        deployed.execute(SignIn(neighbours.codes["bob"]))
    assert sorted(deployed.execute(SignIn(code)).member_id for code in pdf_codes(response.data)) == sorted(chosen)
    nothing = admin.post("/register/letters", {"who": "chosen"}, from_page="/register/letters")
    assert nothing.status == 422 and nothing.field_errors() == {"member_ids": ["Choose at least one member"]}
    odd = admin.post("/register/letters", {"who": "somebody"}, from_page="/register/letters")
    assert odd.status == 422 and "who" in odd.field_errors()
    huge = admin.post("/register/letters", {"who": "chosen", "member_ids": "99999999999999999999"}, from_page="/register/letters")
    assert huge.status in (404, 422)
