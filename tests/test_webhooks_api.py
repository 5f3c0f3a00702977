"""The webhooks' API: admins only (a resident 403, another community's admin 404), URLs that could reach inside the
network refused (422), the secret shown once, rotation, deletion, deliveries with their attempts; the one error shape."""

from __future__ import annotations

from typing import Any

import pytest

from engine.bootstrap import Engine
from engine.kernel.commands import StartInstance
from engine.webhooks.models import WebhookDelivery
from tests.fixtures import bearer
from tests.helpers import Community

PUBLIC = "https://hooks.example.org/yishi?k=1"


def post(client: Any, token: str, body: Any) -> Any:
    return client.post("/api/webhooks", json=body, headers=bearer(token))


def registered(client: Any, community: Community, url: str = PUBLIC, types: list[str] | None = None) -> dict[str, Any]:
    response = post(client, community.tokens["admin"], {"url": url, "event_types": types or ["instance_started"],
                                                       "description": "城市看板"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_an_admin_registers_lists_changes_rotates_and_deletes_a_webhook(client: Any, community: Community) -> None:
    admin = bearer(community.tokens["admin"])
    created = registered(client, community, types=["task_completed", "ballot_cast", "task_completed"])
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["event_types"] == ["ballot_cast", "task_completed"] and created["status"] == "active"
    assert created["url"] == PUBLIC and created["description"] == "城市看板"

    listed = client.get("/api/webhooks", headers=admin).get_json()
    assert [w["id"] for w in listed["items"]] == [created["id"]] and listed["total"] == 1
    shown = client.get(f"/api/webhooks/{created['id']}", headers=admin).get_json()
    assert "secret" not in shown and "secret" not in listed["items"][0]
    assert created["secret"] not in client.get("/api/webhooks", headers=admin).get_data(as_text=True)

    changed = client.patch(f"/api/webhooks/{created['id']}", json={"active": False, "event_types": ["vote_closed"]},
                           headers=admin)
    assert changed.status_code == 422 and changed.get_json()["error"]["details"]["errors"][0]["field"] == "event_types"
    changed = client.patch(f"/api/webhooks/{created['id']}", json={"active": False}, headers=admin)
    assert changed.status_code == 200 and changed.get_json()["status"] == "disabled"

    rotated = client.post(f"/api/webhooks/{created['id']}/secret", headers=admin)
    assert rotated.status_code == 200
    assert rotated.get_json()["secret"] != created["secret"] and rotated.get_json()["secret_rotated_at"]

    deleted = client.delete(f"/api/webhooks/{created['id']}", headers=admin)
    assert deleted.status_code == 200 and deleted.get_json()["status"] == "deleted"
    assert client.get(f"/api/webhooks/{created['id']}", headers=admin).status_code == 404
    assert client.get("/api/webhooks", headers=admin).get_json()["items"] == []
    types = client.get("/api/webhooks/event-types", headers=admin).get_json()["event_types"]
    assert {"instance_started", "task_completed", "ballot_cast", "timers_fired"} <= set(types)


def test_a_resident_may_not_and_another_communitys_admin_finds_nothing(
    client: Any, community: Community, other_community: Community,
) -> None:
    created = registered(client, community)
    resident = bearer(community.tokens["alice"])
    refused = post(client, community.tokens["alice"], {"url": PUBLIC, "event_types": ["instance_started"]})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert client.get("/api/webhooks", headers=resident).status_code == 403
    assert client.get(f"/api/webhooks/{created['id']}", headers=resident).status_code == 403
    assert client.delete(f"/api/webhooks/{created['id']}", headers=bearer(community.tokens["chair"])).status_code == 403

    stranger = bearer(other_community.tokens["admin"])
    for method, path in [("get", ""), ("delete", ""), ("patch", ""), ("post", "/secret"), ("get", "/deliveries")]:
        kwargs = {"json": {"active": False}} if method == "patch" else {}
        answer = getattr(client, method)(f"/api/webhooks/{created['id']}{path}", headers=stranger, **kwargs)
        assert answer.status_code == 404, (method, path)
        assert answer.get_json()["error"]["code"] == "not_found"
    assert client.get("/api/webhooks", headers=stranger).get_json()["items"] == []
    assert client.get(f"/api/webhooks/{created['id']}", headers=bearer(community.tokens["admin"])).status_code == 200
    for huge in ("99999999999999999999", "2147483648"):
        assert client.get(f"/api/webhooks/{huge}", headers=bearer(community.tokens["admin"])).status_code == 404


@pytest.mark.parametrize("url", [
    "http://hooks.example.org/yishi", "https://127.0.0.1/hook", "https://localhost:8443/hook", "https://a.localhost/",
    "https://10.1.2.3/hook", "https://192.168.1.10/", "https://172.16.0.1/", "https://169.254.169.254/latest/meta-data",
    "https://[::1]/hook", "https://[fe80::1]/", "https://[::ffff:10.0.0.1]/", "https://0.0.0.0/", "https://100.64.0.1/",
    "https://user:pass@hooks.example.org/", "ftp://hooks.example.org/", "hooks.example.org/yishi", "https:///nohost",
    "https://hooks.example.org/a b", "https://hooks.example.org:99999/", "https://hooks.example.org/#frag",
    "javascript:alert(1)", "https://" + "a" * 2000 + ".org/",
])
def test_urls_that_are_not_https_to_a_public_address_are_refused(client: Any, community: Community, url: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YISHI_WEBHOOKS_ALLOW_PRIVATE", raising=False)
    answer = post(client, community.tokens["admin"], {"url": url, "event_types": ["instance_started"]})
    assert answer.status_code == 422, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == "invalid_input" and error["details"]["errors"][0]["field"] == "url"


def test_local_urls_are_allowed_only_with_the_flag(client: Any, community: Community,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"url": "http://127.0.0.1:8080/hook", "event_types": ["instance_started"]}
    monkeypatch.delenv("YISHI_WEBHOOKS_ALLOW_PRIVATE", raising=False)
    assert post(client, community.tokens["admin"], body).status_code == 422
    monkeypatch.setenv("YISHI_WEBHOOKS_ALLOW_PRIVATE", "1")
    assert post(client, community.tokens["admin"], body).status_code == 201
    assert post(client, community.tokens["admin"], {**body, "url": "ftp://127.0.0.1/"}).status_code == 422


@pytest.mark.parametrize("body", [
    {"url": PUBLIC}, {"event_types": ["instance_started"]}, {"url": PUBLIC, "event_types": []},
    {"url": PUBLIC, "event_types": ["vote_closed"]}, {"url": PUBLIC, "event_types": "instance_started"},
    {"url": PUBLIC, "event_types": ["instance_started"], "secret": "mine"},
    {"url": PUBLIC, "event_types": ["instance_started"], "description": "x" * 201},
    {"url": "https://hooks.example.org/\u0000", "event_types": ["instance_started"]},
])
def test_bad_bodies_are_422_in_the_one_error_shape(client: Any, community: Community, body: Any) -> None:
    answer = post(client, community.tokens["admin"], body)
    assert answer.status_code == 422, answer.get_json()
    assert set(answer.get_json()) == {"error"} and answer.get_json()["error"]["code"] == "invalid_input"


def test_deliveries_show_status_attempts_and_the_body(client: Any, deployed: Engine, community: Community) -> None:
    admin = bearer(community.tokens["admin"])
    created = registered(client, community)
    other = registered(client, community, types=["task_completed"])
    instance_id = deployed.execute(StartInstance("consultation"), community["chair"]).id
    page = client.get(f"/api/webhooks/{created['id']}/deliveries", headers=admin).get_json()
    assert page["total"] == 1
    (item,) = page["items"]
    assert item["event_type"] == "instance_started" and item["instance_id"] == instance_id and item["seq"] == 1
    assert item["status"] == "pending" and item["attempts"] == 0 and item["next_attempt_at"]
    assert item["last_error"] is None and item["last_status_code"] is None
    one = client.get(f"/api/webhooks/{created['id']}/deliveries/{item['id']}", headers=admin).get_json()
    assert one["attempt_log"] == [] and f'"delivery_id":"{item["id"]}"' in one["body"]
    assert client.get(f"/api/webhooks/{other['id']}/deliveries", headers=admin).get_json()["total"] == 0
    assert client.get(f"/api/webhooks/{other['id']}/deliveries/{item['id']}", headers=admin).status_code == 404
    assert client.get(f"/api/webhooks/{created['id']}/deliveries/{'x' * 5000}", headers=admin).status_code == 404
    filtered = client.get(f"/api/webhooks/{created['id']}/deliveries?status=delivered", headers=admin).get_json()
    assert filtered["total"] == 0
    assert client.get(f"/api/webhooks/{created['id']}/deliveries?status=lost", headers=admin).status_code == 422

    client.delete(f"/api/webhooks/{created['id']}", headers=admin)
    with deployed.read() as session:
        assert session.get(WebhookDelivery, item["id"]).status == "cancelled"


def test_the_database_keeps_the_signing_secret_sealed_under_the_audit_key(deployed: Engine, community: Any) -> None:
    """A reader of the database (or of a backup) cannot sign a delivery: the column holds the secret sealed, tied to
    its webhook; another deployment's key, or the sealed value moved to another webhook, opens nothing."""
    from engine.webhooks import secrets_at_rest
    from engine.webhooks.commands import RegisterWebhook
    from engine.webhooks.models import WebhookSubscription
    made = [deployed.execute(RegisterWebhook(f"https://hooks.example.org/{n}", ["instance_started"], ""), community["admin"])
            for n in range(2)]
    key = deployed.context.secret(secrets_at_rest.PURPOSE)
    with deployed.read() as session:
        stored = {row.id: row.secret for row in session.query(WebhookSubscription)}
    first, second = (made[0].webhook.id, made[0].secret), (made[1].webhook.id, made[1].secret)
    for webhook_id, secret in (first, second):
        assert secret not in stored[webhook_id] and secret.split("_")[-1] not in stored[webhook_id]
        assert secrets_at_rest.unseal(key, webhook_id, stored[webhook_id]) == secret
    assert secrets_at_rest.unseal(key, second[0], stored[first[0]]) is None
    assert secrets_at_rest.unseal(b"another deployment" * 2, first[0], stored[first[0]]) is None
