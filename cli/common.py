"""The ``yishi`` group (its options: the database and the audit key) and what its commands share.

The group loads each command's module only when that command runs (``LazyGroup``): the database commands need the
engine and the web app (seconds to import), while a device's commands — ``yishi trustee``, ``yishi ballot`` — need
only the pure encryption code and answer in a fraction of a second.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from engine.bootstrap import Engine
    from engine.kernel.models import Instance

DEFAULT_DATABASE_URL = f"sqlite:///{Path.cwd() / 'var' / 'yishi.sqlite3'}"
DEFAULT_AUDIT_KEY = str(Path.cwd() / "var" / "audit-key.pem")
"""The app's defaults (``api.config``), spelled here so that the group does not import the app to know them."""


def engine_from(obj: dict[str, Any]) -> Engine:
    from engine.bootstrap import Engine, EngineConfig
    from engine.kernel.db import Database

    database = obj["database"]
    if database.startswith("sqlite:///"):
        Path(database.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return Engine(Database(database), config=EngineConfig(audit_key=Path(obj["audit_key"]), demo=obj.get("demo_mode", False)))


class LazyGroup(click.Group):
    """A group whose commands are named up front (``"module:attribute"``) and imported when one is called."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, str] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, attribute = self.lazy[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup)
@click.option("--database", envvar="YISHI_DATABASE_URL", default=DEFAULT_DATABASE_URL, show_default=True,
              help="SQLAlchemy URL (SQLite by default; postgresql+psycopg://… to scale out).")
@click.option("--audit-key", envvar="YISHI_AUDIT_KEY", default=DEFAULT_AUDIT_KEY, show_default=True,
              help="Ed25519 key file that signs checkpoints (created on first use); keep it out of the database's backups.")
@click.option("--demo-mode/--no-demo-mode", envvar="YISHI_DEMO_MODE", default=False, show_default=True,
              help="A demonstration deployment: an admin may advance the demo clock (POST /api/demo/clock). Never in production.")
@click.pass_context
def main(ctx: click.Context, database: str, audit_key: str, demo_mode: bool) -> None:
    """Yishi (议事): participatory deliberation workflows for urban communities."""
    ctx.obj = {"database": database, "audit_key": audit_key, "demo_mode": demo_mode}


# ---- the audit trail: the operator's commands (no role: whoever holds the database holds it all) ----


def community_id_of(session: Any, slug: str) -> int:
    from engine.identity import members

    community = members.community_by_slug(session, slug)
    if community is None:
        raise click.ClickException(f"no community {slug!r}")
    return community.id


def instance_of(session: Any, instance_id: str) -> Instance:
    from engine.kernel.models import Instance

    instance = session.get(Instance, instance_id)
    if instance is None:
        raise click.ClickException(f"no instance {instance_id!r}")
    return instance


def echo_json(document: Any, output: Any = None) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2), file=output)
