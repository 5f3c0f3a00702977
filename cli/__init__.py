"""The ``yishi`` command: one group (``cli.common.main``) and its commands, by topic.

``cli.server`` runs the engine (``serve``, ``worker``); ``cli.admin`` sets a database up (``migrate``,
``deploy``, ``demo``); ``cli.audit`` counts and checks (``tally``, ``export``, ``verify``,
``verify-bundle``, ``replay``, ``as-of``, ``checkpoint``). Like the API, the commands reach the engine
only through ``engine.bootstrap.Engine``.
"""

from __future__ import annotations

from cli import admin, audit, server
from cli.common import main

COMMANDS = (
    admin.migrate, admin.deploy, admin.demo, audit.tally, server.worker, server.serve,
    audit.export, audit.verify_stored, audit.verify_bundle, audit.replay, audit.as_of, audit.checkpoint,
)
for command in COMMANDS:
    main.add_command(command)

__all__ = ["main"]
