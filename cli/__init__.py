"""The ``yishi`` command: one group (``cli.common.main``) and its commands, by topic.

``cli.server`` runs the engine (``serve``, ``worker``); ``cli.admin`` sets a database up (``migrate``,
``deploy``, ``demo``); ``cli.audit`` counts and checks (``tally``, ``export``, ``verify``,
``verify-bundle``, ``replay``, ``as-of``, ``checkpoint``). Like the API, these commands reach the engine
only through ``engine.bootstrap.Engine``. ``cli.trustee`` (``trustee join|shares|keyshare|decrypt|status``) is
a trustee's device in an encrypted vote, ``cli.ballot`` (``ballot cast|audit|check``) a voter's: they hold no
database, only the pure encryption code, and talk to a server's API over HTTP (``cli.transport``).
"""

from __future__ import annotations

from cli.common import main

COMMANDS = {
    "migrate": "cli.admin:migrate", "deploy": "cli.admin:deploy", "demo": "cli.admin:demo", "tally": "cli.audit:tally",
    "worker": "cli.server:worker", "serve": "cli.server:serve", "export": "cli.audit:export",
    "verify": "cli.audit:verify_stored", "verify-bundle": "cli.audit:verify_bundle", "replay": "cli.audit:replay",
    "as-of": "cli.audit:as_of", "checkpoint": "cli.audit:checkpoint", "trustee": "cli.trustee:trustee",
    "ballot": "cli.ballot:ballot",
}
"""Each command by name, imported when it runs (``cli.common.LazyGroup``)."""
main.lazy.update(COMMANDS)

__all__ = ["main"]
