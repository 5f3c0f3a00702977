"""Setting a database up: ``migrate``, ``deploy`` (the platform's definitions), ``demo`` (a demo community and its tokens)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from cli.common import engine_from
from engine.bootstrap import Engine
from engine.identity.commands import SeedCommunity
from engine.kernel.commands import DeployDefinition

DEMO_MEMBERS = (
    ("王主任 Wang (committee chair)", ("committee", "resident")),
    ("李委员 Li (committee)", ("committee", "resident")),
    ("张阿姨 Zhang (resident)", ("resident",)),
    ("陈先生 Chen (resident)", ("resident",)),
    ("刘同学 Liu (resident)", ("resident",)),
    ("审计员 Auditor", ("auditor",)),
    ("物业维修 Repairs provider", ("provider",)),
    ("街道办 Street office", ("street_office",)),
    ("管理员 Admin", ("admin",)),
)


@click.command()
@click.pass_obj
def migrate(obj: dict[str, Any]) -> None:
    """Create or upgrade the database schema."""
    engine_from(obj).db.migrate()
    click.echo("schema is up to date")


@click.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def deploy(obj: dict[str, Any], files: tuple[Path, ...]) -> None:
    """Deploy BPMN and DMN files as the platform's versions, or every bundled process and decision table when none is named.

    Whoever runs this holds the database: the platform operator. A community runs a new platform
    version only once its admin adopts it (POST /api/definitions/KEY/adopt); a community's own
    versions are deployed by its admins through the API."""
    engine = engine_from(obj)
    engine.db.migrate()
    if not files:
        deployments = engine.deploy_bundled()
    else:
        deployments = [engine.execute(DeployDefinition(f.name, f.read_bytes())) for f in files]
    for d in deployments:
        state = "deployed" if d.created else "unchanged"
        click.echo(f"platform {d.definition.key} v{d.definition.version} {state} (sha256 {d.definition.sha256[:12]}…)")


@click.command()
@click.option("--slug", default="demo", show_default=True)
@click.pass_obj
def demo(obj: dict[str, Any], slug: str) -> None:
    """Create (or reuse) a demo community and print a fresh API token and web sign-in code for each of its members."""
    engine = engine_from(obj)
    engine.db.migrate()
    print_demo(seed_demo(engine, slug))


def seed_demo(engine: Engine, slug: str) -> list[tuple[str, list[str], str, str]]:
    """The demo community (created on first use) with a fresh API token and web sign-in code for each of its members,
    issued in one transaction."""
    seeded = engine.execute(SeedCommunity(slug, "和谐花园社区 Harmony Garden (demo)", DEMO_MEMBERS, "demo", sign_in_codes=True))
    return [(member.name, member.roles, token, code) for member, token, code in seeded]


def print_demo(seeded: list[tuple[str, list[str], str, str]]) -> None:
    click.echo("Demo community: API tokens (send 'Authorization: Bearer <token>') and web sign-in codes (at /sign-in):")
    for name, roles, token, code in seeded:
        click.echo(f"  {','.join(roles):<20} {name:<32} {token}  {code}")
