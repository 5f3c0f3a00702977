"""The ``yishi`` group (its options: the database and the audit key) and what its commands share.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from api.config import Config
from engine.bootstrap import Engine, EngineConfig
from engine.identity import members
from engine.kernel.db import Database
from engine.kernel.models import Instance


def engine_from(obj: dict[str, Any]) -> Engine:
    return Engine(Database(obj["database"]), config=EngineConfig(audit_key=Path(obj["audit_key"]), demo=obj.get("demo_mode", False)))


@click.group()
@click.option("--database", envvar="YISHI_DATABASE_URL", default=Config.YISHI_DATABASE_URL, show_default=True,
              help="SQLAlchemy URL (SQLite by default; postgresql+psycopg://… to scale out).")
@click.option("--audit-key", envvar="YISHI_AUDIT_KEY", default=Config.YISHI_AUDIT_KEY, show_default=True,
              help="Ed25519 key file that signs checkpoints (created on first use); keep it out of the database's backups.")
@click.option("--demo-mode/--no-demo-mode", envvar="YISHI_DEMO_MODE", default=False, show_default=True,
              help="A demonstration deployment: an admin may advance the demo clock (POST /api/demo/clock). Never in production.")
@click.pass_context
def main(ctx: click.Context, database: str, audit_key: str, demo_mode: bool) -> None:
    """Yishi (议事): participatory deliberation workflows for urban communities."""
    if database.startswith("sqlite:///"):
        Path(database.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    ctx.obj = {"database": database, "audit_key": audit_key, "demo_mode": demo_mode}


# ---- the audit trail: the operator's commands (no role: whoever holds the database holds it all) ----


def community_id_of(session: Any, slug: str) -> int:
    community = members.community_by_slug(session, slug)
    if community is None:
        raise click.ClickException(f"no community {slug!r}")
    return community.id


def instance_of(session: Any, instance_id: str) -> Instance:
    instance = session.get(Instance, instance_id)
    if instance is None:
        raise click.ClickException(f"no instance {instance_id!r}")
    return instance


def echo_json(document: Any, output: Any = None) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2), file=output)
