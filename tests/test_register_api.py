"""The community register through the JSON API: the register, the import (dry run, then the previewed file), a
member's sign-in code and sessions, and sign-in letters as PDF; admins only, the one error shape; both backends."""

from __future__ import annotations

import re
from typing import Any

from engine.bootstrap import Engine
from engine.identity.commands import SignIn
from tests.fixtures import bearer
from tests.helpers import Community

GOOD = "name,roles,household,area\n张阿姨,resident,3-402,\n王先生,resident owner,5-101,86.35\n"


def test_an_import_is_previewed_then_the_previewed_file_imported(client: Any, community: Community) -> None:
    url = f"/api/communities/{community.id}/members/import"
    admin = bearer(community.tokens["admin"])
    preview = client.post(f"{url}?dry_run=true", data=GOOD.encode("gbk"), headers={**admin, "Content-Type": "text/csv"})
    assert preview.status_code == 200, preview.get_json()
    body = preview.get_json()
    assert body["encoding"] == "GBK" and body["errors"] == [] and body["imported"] == 0
    assert [row["name"] for row in body["rows"]] == ["张阿姨", "王先生"] and body["rows"][1]["area"] == "86.35"
    changed = client.post(f"{url}?sha256={body['sha256']}", data=(GOOD + "李四,resident,,\n").encode(),
                          headers={**admin, "Content-Type": "text/csv"})
    assert changed.status_code == 409 and changed.get_json()["error"]["code"] == "conflict"
    done = client.post(f"{url}?sha256={body['sha256']}", data=GOOD.encode("gbk"), headers={**admin, "Content-Type": "text/csv"})
    assert done.status_code == 201 and done.get_json()["imported"] == 2 and len(done.get_json()["member_ids"]) == 2
    register = client.get(f"/api/communities/{community.id}/register?q=5-101", headers=admin).get_json()
    assert register["total"] == 1 and register["items"][0]["name"] == "王先生"
    assert register["items"][0]["has_unused_code"] is False and register["items"][0]["live_sessions"] == 0


def test_a_file_with_a_bad_row_is_refused_whole_with_every_error_in_chinese(client: Any, community: Community) -> None:
    url = f"/api/communities/{community.id}/members/import"
    refused = client.post(url, data=(GOOD + "Zed,mayor,,-1\n").encode(),
                          headers={**bearer(community.tokens["admin"]), "Content-Type": "text/csv", "Accept-Language": "zh-CN"})
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "invalid_input" and error["message"] == "文件中有 1 行有错误：没有导入任何成员"
    assert [(e["row"], e["field"], e["message"]) for e in error["details"]["errors"]] == [
        (4, "roles", "未知角色：mayor"), (4, "area", "不是正数的平方米面积（最多 4 位小数），例如 86.35")]
    listed = client.get(f"/api/communities/{community.id}/register", headers=bearer(community.tokens["admin"])).get_json()
    assert listed["total"] == 7


def test_only_admins_of_the_community_use_the_register(client: Any, community: Community, other_community: Community) -> None:
    for who in ("clerk", "alice"):
        headers = bearer(community.tokens[who])
        assert client.get(f"/api/communities/{community.id}/register", headers=headers).status_code == 403
        assert client.post(f"/api/communities/{community.id}/members/import?dry_run=true", data=GOOD.encode(),
                           headers={**headers, "Content-Type": "text/csv"}).status_code == 403
        assert client.post(f"/api/communities/{community.id}/sign-in-letters", json={"without_unused_code": True},
                           headers=headers).status_code == 403
    other = bearer(other_community.tokens["admin"])
    assert client.get(f"/api/communities/{community.id}/register", headers=other).status_code == 404
    alice = community["alice"].member_id
    assert client.post(f"/api/communities/{other_community.id}/members/{alice}/sign-in-code", headers=other).status_code == 404


def test_a_code_then_sessions_revoked(client: Any, deployed: Engine, community: Community) -> None:
    admin = bearer(community.tokens["admin"])
    alice = community["alice"].member_id
    issued = client.post(f"/api/communities/{community.id}/members/{alice}/sign-in-code", headers=admin)
    assert issued.status_code == 201
    deployed.execute(SignIn(issued.get_json()["code"]))
    revoked = client.post(f"/api/communities/{community.id}/members/{alice}/sessions/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.get_json() == {"member_id": alice, "revoked": 1}


def test_sign_in_letters_are_a_pdf_a_page_per_member(client: Any, community: Community) -> None:
    admin = bearer(community.tokens["admin"])
    letters = client.post(f"/api/communities/{community.id}/sign-in-letters", json={"without_unused_code": True}, headers=admin)
    assert letters.status_code == 200 and letters.mimetype == "application/pdf"
    assert len(re.findall(rb"/Type /Page[^s]", letters.data)) == 7
    again = client.post(f"/api/communities/{community.id}/sign-in-letters", json={"without_unused_code": True}, headers=admin)
    assert again.status_code == 422
    chosen = client.post(f"/api/communities/{community.id}/sign-in-letters",
                         json={"member_ids": [community["bob"].member_id]}, headers=admin)
    assert chosen.status_code == 200 and len(re.findall(rb"/Type /Page[^s]", chosen.data)) == 1
