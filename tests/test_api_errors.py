"""Bad input at the HTTP edge is a clear 4xx in the one error shape, never a 500."""

from __future__ import annotations

from tests.fixtures import bearer
from tests.helpers import Community


def test_an_id_too_large_for_the_database_is_not_found(client, community: Community) -> None:
    response = client.get(f"/api/opinions/{2**40}", headers=bearer(community.tokens["alice"]))
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
