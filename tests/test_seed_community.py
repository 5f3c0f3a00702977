"""``SeedCommunity`` is the operator's command: no API caller, whatever its roles, may send it."""

from __future__ import annotations

import pytest

from engine.bootstrap import Engine
from engine.identity.commands import SeedCommunity
from engine.kernel.errors import PermissionDenied
from tests.helpers import Community


def test_an_actor_may_not_seed_a_community(deployed: Engine, community: Community, other_community: Community) -> None:
    for actor in (community["admin"], other_community["admin"]):
        with pytest.raises(PermissionDenied):
            deployed.execute(SeedCommunity("intruders", "Intruders", (("mallory", ("admin",)),), "x"), actor)
        with pytest.raises(PermissionDenied):  # nor reach into an existing community by its slug
            deployed.execute(SeedCommunity(community.slug, "x", (("mallory", ("admin",)),), "x"), actor)


def test_seeding_an_existing_slug_adds_no_member(deployed: Engine, community: Community) -> None:
    seeded = deployed.execute(SeedCommunity(community.slug, "x", (("mallory", ("admin",)),), "again"))
    assert "mallory" not in {member.name for member, *_ in seeded}
    assert {member.community_id for member, *_ in seeded} == {community.id}
