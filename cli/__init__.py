"""The ``yishi`` command: one group (``cli.common.main``) and its commands, by topic.

``cli.server`` runs the engine (``serve``, ``worker``); ``cli.admin`` sets a database up (``migrate``,
``deploy``, ``demo``); ``cli.audit`` counts and checks (``tally``, ``export``, ``verify``,
``verify-bundle``, ``replay``, ``as-of``, ``checkpoint``). Like the API, these commands reach the engine
only through ``engine.bootstrap.Engine``. ``cli.trustee`` (``trustee join|shares|keyshare|decrypt|status``) is
a trustee's device in an encrypted vote: it holds no database, only the pure encryption code, and talks to a
server's API over HTTP.
"""

from __future__ import annotations

from cli import admin, audit, server, trustee
from cli.common import main

COMMANDS = (
    admin.migrate, admin.deploy, admin.demo, audit.tally, server.worker, server.serve,
    audit.export, audit.verify_stored, audit.verify_bundle, audit.replay, audit.as_of, audit.checkpoint,
    trustee.trustee,
)
for command in COMMANDS:
    main.add_command(command)

__all__ = ["main"]
