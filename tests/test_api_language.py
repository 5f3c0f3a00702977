"""The JSON API's error messages follow ``Accept-Language`` (Chinese for zh-CN, English when none is asked for);
the code, the status, the shape and the field names never change, and neither does the OpenAPI document."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import Client

from api import create_app, errors as api_errors
from api.voting.fast_cast import FastCast
from engine.bootstrap import Engine
from engine.kernel import errors
from tests.builders import add_member, identity_token, open_vote
from tests.fixtures import bearer
from tests.helpers import Community

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
HAN = re.compile(r"[\u4e00-\u9fff]")


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    return response.get_json()["error"]


@pytest.mark.backend_independent
def test_an_unknown_route_is_refused_in_the_callers_language(client: Any) -> None:
    chinese = error_of(client.get("/api/no-such-thing", headers=ZH), 404)
    english = error_of(client.get("/api/no-such-thing"), 404)
    assert chinese == {"code": "not_found", "message": "此地址下没有内容：请对照 API 文档（/api/docs）检查路径"}
    assert english == {"code": "not_found",
                       "message": "there is nothing at this address: check the path against the API documentation (/api/docs)"}
    assert client.get("/api/no-such-thing", headers=ZH).headers["Content-Language"] == "zh-CN"
    assert "Content-Language" not in client.get("/api/no-such-thing").headers


@pytest.mark.backend_independent
def test_english_is_the_answer_to_any_language_the_api_does_not_speak(client: Any) -> None:
    for asked in ("fr-FR", "de", "en-GB", ""):
        assert not HAN.search(error_of(client.get("/api/no-such-thing", headers={"Accept-Language": asked}), 404)["message"])
    assert HAN.search(error_of(client.get("/api/no-such-thing", headers={"Accept-Language": "zh"}), 404)["message"])


def test_malformed_json_and_schema_errors_name_each_field_in_chinese(client: Any, community: Community) -> None:
    chair = bearer(community.tokens["chair"])
    bad = client.post("/api/instances", data="{not json", content_type="application/json", headers={**chair, **ZH})
    assert error_of(bad, 400) == {"code": "invalid_json", "message": "请求正文不是有效的 JSON"}

    chinese = error_of(client.post("/api/instances", json={"extra": 1}, headers={**chair, **ZH}), 422)
    english = error_of(client.post("/api/instances", json={"extra": 1}, headers=chair), 422)
    assert chinese["code"] == english["code"] == "invalid_input"
    assert chinese["message"] == "请求与其模式（schema）不符" and english["message"] == "the request does not match its schema"
    assert sorted(chinese["details"]["errors"], key=str) == sorted([
        {"field": "definition_key", "message": "缺少必填字段的数据。"}, {"field": "extra", "message": "未知字段。"}], key=str)
    assert sorted(english["details"]["errors"], key=str) == sorted([
        {"field": "definition_key", "message": "Missing data for required field."}, {"field": "extra", "message": "Unknown field."}], key=str)


def test_a_validators_formatted_message_is_translated_with_its_values(client: Any, community: Community) -> None:
    admin = bearer(community.tokens["admin"])
    body = {"name": "x" * 201, "roles": ["resident"]}
    chinese = error_of(client.post(f"/api/communities/{community.id}/members", json=body, headers={**admin, **ZH}), 422)
    english = error_of(client.post(f"/api/communities/{community.id}/members", json=body, headers=admin), 422)
    assert english["details"]["errors"] == [{"field": "name", "message": "Length must be between 1 and 200."}]
    assert chinese["details"]["errors"] == [{"field": "name", "message": "长度必须在 1 到 200 之间。"}]


def test_engine_messages_constant_and_formatted_are_translated(client: Any, community: Community) -> None:
    chair = bearer(community.tokens["chair"])
    assert error_of(client.get("/api/instances/no-such-instance", headers={**chair, **ZH}), 404) == {
        "code": "not_found", "message": "找不到该实例"}
    assert error_of(client.get("/api/instances/no-such-instance", headers=chair), 404)["message"] == "instance not found"
    formatted = error_of(client.post("/api/instances", json={"definition_key": "no_such_process"}, headers={**chair, **ZH}), 404)
    assert formatted == {"code": "not_found", "message": "没有部署键为 'no_such_process' 的流程"}
    english = error_of(client.post("/api/instances", json={"definition_key": "no_such_process"}, headers=chair), 404)
    assert english["message"] == "no process with key 'no_such_process' is deployed"


@pytest.mark.backend_independent
def test_no_token_and_an_out_of_range_id_are_refused_in_chinese(client: Any, community: Community) -> None:
    refused = client.get("/api/instances", headers=ZH)
    assert error_of(refused, 401) == {"code": "unauthenticated", "message": "请以 'Authorization: Bearer <token>' 发送 API 令牌"}
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="yishi"'
    huge = error_of(client.get(f"/api/communities/{2**70}", headers={**bearer(community.tokens["admin"]), **ZH}), 404)
    assert huge["message"].startswith("没有对应此 community_id 的内容：community_id 必须在 0 到 ")
    assert huge["details"]["errors"][0]["field"] == "community_id"
    assert huge["details"]["errors"][0]["message"].startswith("community_id 必须在 0 到 ")


@pytest.mark.backend_independent
def test_field_errors_of_the_engine_and_where_a_definition_fails_are_translated(deployed: Engine) -> None:
    app = create_app({"TESTING": True}, engine=deployed)
    invalid = errors.InvalidInput("the deadline must lie in the future", errors=[{"field": "vote.deadline", "message": "in the past"}])
    broken = errors.DefinitionError("unsafe XML: XInclude is not allowed", file="a.bpmn", line=3)
    with app.test_request_context("/api/instances", headers=ZH):
        body = api_errors.error_for(invalid).get_json()["error"]
        assert body == {"code": "invalid_input", "message": "截止时间必须在将来",
                        "details": {"errors": [{"field": "vote.deadline", "message": "已是过去"}]}}
        assert invalid.details["errors"][0]["message"] == "in the past"  # the exception keeps its own
        definition = api_errors.error_for(broken).get_json()["error"]
        assert definition["message"] == "不安全的 XML：不允许 XInclude（文件 a.bpmn, 第 3 行）"
        assert definition["details"] == {"file": "a.bpmn", "line": 3}
    with app.test_request_context("/api/instances"):
        assert api_errors.error_for(broken).get_json()["error"]["message"] == "unsafe XML: XInclude is not allowed (file a.bpmn, line 3)"


@pytest.mark.backend_independent
def test_outside_a_request_messages_are_english_and_nothing_breaks(deployed: Engine) -> None:
    app = create_app({"TESTING": True}, engine=deployed)
    with app.app_context():
        response = api_errors.error_for(errors.Conflict("the vote is closed"))
        assert response.status_code == 409 and response.get_json()["error"]["message"] == "the vote is closed"
        assert api_errors.translate("the vote is closed") == "the vote is closed"


@pytest.mark.backend_independent
def test_a_message_no_catalogue_entry_matches_is_sent_as_it_is(deployed: Engine) -> None:
    app = create_app({"TESTING": True}, engine=deployed)
    with app.test_request_context("/api/instances", headers=ZH):
        assert api_errors.translate("something computed at run time: 42") == "something computed at run time: 42"
        assert api_errors.translate("") == ""


def test_every_pattern_of_the_catalogue_translates_its_own_message() -> None:
    """Each formatted message, filled with sample values, comes back as its own translation filled with the same values:
    no other pattern of the catalogue takes it first."""
    app = Flask(__name__)
    from web import i18n
    i18n.install(app)
    with app.test_request_context("/api/x", headers=ZH):
        from flask_babel import get_translations
        catalogue = get_translations()
        wrong = []
        for _pattern, msgid, generic in api_errors.patterns():
            if generic:
                continue
            names = api_errors.PLACEHOLDER.findall(msgid)
            values = {name: f"<{name.upper()}>" for name in names}
            english = msgid % values
            expected = catalogue.gettext(msgid) % values
            got = api_errors.translate(english)
            if got != expected:
                wrong.append(f"{english!r} gave {got!r}, not {expected!r}")
        assert wrong == []


@pytest.mark.backend_independent
def test_the_openapi_document_is_the_same_in_every_language(client: Any) -> None:
    assert client.get("/api/openapi.json", headers=ZH).get_json() == client.get("/api/openapi.json").get_json()


def test_the_ballots_fast_path_refuses_in_the_callers_language_as_the_flask_route_does(deployed: Engine, community: Community) -> None:
    app = create_app({"TESTING": True}, engine=deployed)
    assert isinstance(app.wsgi_app, FastCast)
    fast, slow = Client(app), Client(Flask.wsgi_app.__get__(app))
    _, vote_id = open_vote(deployed, community)
    outsider = identity_token(deployed, community, add_member(deployed, community, "Olga", ["committee"]))
    for language, message in ((ZH, "您不在此次表决的投票人范围内"), ({}, "you are not in this vote's electorate")):
        headers = {"Authorization": f"Bearer {outsider}", "Idempotency-Key": str(uuid.uuid4()), **language}
        answers = [client.post(f"/api/votes/{vote_id}/ballots", json={"choice": "yes"}, headers=headers) for client in (fast, slow)]
        for answer in answers:
            assert error_of(answer, 403) == {"code": "forbidden", "message": message}
        assert answers[0].get_data() == answers[1].get_data()


@pytest.mark.backend_independent
@pytest.mark.parametrize("header", ["de, *;q=0.5", "*", "fr-FR"])
def test_a_wildcard_or_an_unknown_language_gets_english(client: Any, header: str) -> None:
    body = client.get("/api/nowhere", headers={"Accept-Language": header}).get_json()
    assert body["error"]["message"] == client.get("/api/nowhere").get_json()["error"]["message"]
    assert body["error"]["message"].isascii()
