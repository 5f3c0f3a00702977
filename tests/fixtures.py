"""Shared fixtures: every engine and API test runs on SQLite and on PostgreSQL.

Each test gets a fresh, migrated database: on SQLite a copy of a migrated template file, on
PostgreSQL a database cloned from a migrated template database.

Under pytest-xdist every worker is a session of its own: its own temporary directory (so its own
SQLite template), its own throwaway PostgreSQL cluster, and its own template database
(``yishi_template_gw0`` …), so that no worker drops or clones a template another is using (CREATE
DATABASE … TEMPLATE fails while anyone else is connected to the template). With
``YISHI_TEST_POSTGRES_URL`` the workers share that server and still each clone their own template.
"""

from __future__ import annotations

import copy
import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from datetime import datetime, timezone
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from werkzeug.test import Client

from api import create_app
from api.voting.fast_cast import FastCast
from engine.kernel.clock import ManualClock
from engine.kernel.db import Database
from engine.bootstrap import Engine, EngineConfig
from tests import postgres_cluster
from tests.helpers import Community, make_community

BACKENDS = ["sqlite", "postgresql"]
PREDEPLOYED = pytest.StashKey[bool]()
"""Set on a test whose database came from a template with the bundled processes deployed."""
_counter = itertools.count()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    return path


START = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
"""Where every test's clock starts."""


def deploy_into(url: str, directory: Path) -> None:
    """Deploy the bundled processes into a template database, as ``deployed`` would at the clock's start."""
    yishi = Engine(Database(url), ManualClock(START), EngineConfig(audit_key=directory / "audit-key.pem"))
    yishi.deploy_bundled()
    yishi.db.dispose()


@pytest.fixture(scope="session")
def sqlite_deployed_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated template with the bundled processes deployed: parsing them for every test cost a fifth of a second."""
    directory = tmp_path_factory.mktemp("deployed")
    path = directory / "deployed.sqlite3"
    shutil.copy(sqlite_template, path)
    deploy_into(f"sqlite:///{path}", directory)
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    url = os.environ.get("YISHI_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    with postgres_cluster.cluster() as url:
        yield url


def worker_name() -> str:
    """This xdist worker's id (``gw0`` …), or ``main`` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[tuple[str, str]]:
    """The server's admin URL and the name of this worker's migrated template database."""
    template = f"yishi_template_{worker_name()}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {template}"))
    db = Database(postgres_server.rsplit("/", 1)[0] + "/" + template)
    db.migrate()
    db.dispose()
    yield postgres_server, template
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_deployed_template(postgres_template: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """This worker's template with the bundled processes deployed."""
    server, template = postgres_template
    deployed = f"yishi_deployed_{worker_name()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {deployed} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {deployed} TEMPLATE {template}"))
    deploy_into(server.rsplit("/", 1)[0] + "/" + deployed, tmp_path_factory.mktemp("deployed-pg"))
    yield server, deployed
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {deployed} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database(request, tmp_path, request.param)


def fresh_database(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> Iterator[str]:
    """A fresh migrated database on ``backend``: a copy of the SQLite template, or a PostgreSQL database cloned from
    this worker's template and dropped afterwards. A test that asks for ``deployed`` gets it from the template with
    the bundled processes already deployed (``deployed`` then has nothing to do)."""
    predeployed = "deployed" in request.fixturenames
    request.node.stash[PREDEPLOYED] = predeployed
    if backend == "sqlite":
        yield copy_of(request.getfixturevalue("sqlite_deployed_template" if predeployed else "sqlite_template"), tmp_path)
        return
    yield from clone_of(*request.getfixturevalue("postgres_deployed_template" if predeployed else "postgres_template"))


def copy_of(template: Path, tmp_path: Path) -> str:
    """The URL of a copy of a SQLite template in the test's directory."""
    path = tmp_path / "yishi.sqlite3"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


def clone_of(server: str, template: str) -> Iterator[str]:
    """The URL of a PostgreSQL database cloned from ``template``, dropped after the test."""
    name = f"yishi_test_{os.getpid()}_{next(_counter)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}"))
    yield server.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


# --- prebuilt scenarios: built once per worker and backend, copied for each test ------------------------------------

@dataclass(frozen=True)
class Prebuilt:
    """A scenario built on a deployed engine into a template of its own: ``template`` (a SQLite file, or a PostgreSQL
    database on ``server``), the audit key that signed it, the clock's time when it was done, and what the builder
    returned (ids, a ``Community``…), which each test gets a deep copy of."""

    template: Path | str
    server: str | None
    audit_key: Path
    now: datetime
    value: Any


PREBUILT = pytest.StashKey[Prebuilt]()
"""Set on a test whose database is a copy of a prebuilt scenario (``prebuilt_database``)."""


@pytest.fixture(scope="session")
def sqlite_scenarios() -> dict[str, Prebuilt]:
    """This worker's prebuilt scenarios on SQLite, by builder (files in the session's temporary directory)."""
    return {}


@pytest.fixture(scope="session")
def postgresql_scenarios(postgres_deployed_template: tuple[str, str]) -> Iterator[dict[str, Prebuilt]]:
    """This worker's prebuilt scenarios on PostgreSQL, by builder; their template databases are dropped at the end."""
    scenarios: dict[str, Prebuilt] = {}
    yield scenarios
    admin = create_engine(postgres_deployed_template[0], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for built in scenarios.values():
            conn.execute(text(f"DROP DATABASE IF EXISTS {built.template} WITH (FORCE)"))
    admin.dispose()


def prebuilt_database(request: pytest.FixtureRequest, tmp_path: Path, backend: str,
                      build: Callable[[Engine, ManualClock], Any]) -> Iterator[str]:
    """A fresh database holding what ``build(engine, clock)`` made on a deployed engine from the clock's ``START``.

    A module whose every test starts from the same long scenario (seconds of commands) overrides ``database_url`` with
    this: the scenario is built once per worker and backend, through the engine as a test would build it, into a
    template; each test gets a copy of that template (a file copy, a ``CREATE DATABASE … TEMPLATE``), the audit key
    that signed it (``engine`` reads ``tmp_path / "audit-key.pem"``), a ``clock`` at the time the scenario ended
    there, and ``prebuilt(request)``: a deep copy of what ``build`` returned. What a test then does to its copy no
    other test sees."""
    scenarios = request.getfixturevalue(f"{backend}_scenarios")
    key = f"{build.__module__}.{build.__qualname__}"
    if key not in scenarios:
        scenarios[key] = build_scenario(request, backend, build, len(scenarios))
    built = scenarios[key]
    request.node.stash[PREDEPLOYED] = True
    request.node.stash[PREBUILT] = built
    if built.audit_key.exists():  # made when the scenario first signed or sealed something
        shutil.copy(built.audit_key, tmp_path / "audit-key.pem")
    if built.server is None:
        assert isinstance(built.template, Path)
        yield copy_of(built.template, tmp_path)
        return
    yield from clone_of(built.server, str(built.template))


def build_scenario(request: pytest.FixtureRequest, backend: str, build: Callable[[Engine, ManualClock], Any],
                   number: int) -> Prebuilt:
    """Run ``build`` on a copy of the deployed template, which becomes the scenario's template."""
    directory = request.getfixturevalue("tmp_path_factory").mktemp("prebuilt")
    server: str | None = None
    if backend == "sqlite":
        template: Path | str = directory / "prebuilt.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_deployed_template"), template)
        url = f"sqlite:///{template}"
    else:
        server, deployed = request.getfixturevalue("postgres_deployed_template")
        template = f"yishi_scenario_{worker_name()}_{number}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {template} TEMPLATE {deployed}"))
        admin.dispose()
        url = server.rsplit("/", 1)[0] + "/" + template
    clock = ManualClock(START)
    yishi = Engine(Database(url), clock, EngineConfig(audit_key=directory / "audit-key.pem"))
    try:
        value = build(yishi, clock)
    finally:
        yishi.db.dispose()
    return Prebuilt(template, server, directory / "audit-key.pem", clock.now(), value)


def prebuilt(request: pytest.FixtureRequest) -> Any:
    """What the builder of the test's prebuilt database returned (a deep copy: a test may change its own)."""
    return copy.deepcopy(request.node.stash[PREBUILT].value)


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> ManualClock:
    """A clock at ``START``, or where a prebuilt scenario left it (``prebuilt_database``)."""
    if "database_url" in request.fixturenames:
        request.getfixturevalue("database_url")  # a prebuilt database says its time
    built = request.node.stash.get(PREBUILT, None)
    return ManualClock(built.now if built is not None else START)


@pytest.fixture
def engine(database_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[Engine]:
    yishi = Engine(Database(database_url), clock, EngineConfig(audit_key=tmp_path / "audit-key.pem"))
    yield yishi
    yishi.db.dispose()


@pytest.fixture
def deployed(engine: Engine, request: pytest.FixtureRequest) -> Engine:
    """An engine with the bundled processes deployed (its database came from the deployed template, or they are
    deployed now: a test that overrides ``database_url`` makes its own)."""
    if not request.node.stash.get(PREDEPLOYED, False):
        engine.deploy_bundled()
    return engine


@pytest.fixture
def community(deployed: Engine) -> Community:
    return make_community(deployed, "harmony")


@pytest.fixture
def other_community(deployed: Engine) -> Community:
    return make_community(deployed, "riverside")


@pytest.fixture
def client(deployed: Engine) -> Any:
    """A Flask test client on the deployed engine (the same database and clock as the test)."""
    return create_app({"TESTING": True}, engine=deployed).test_client()


@pytest.fixture
def apps(deployed: Engine) -> tuple[Client, Client, list[int]]:
    """For the fast-cast tests: the app as served, the same app without the fast path, and a count of the requests Flask saw."""
    app = create_app({"TESTING": True}, engine=deployed)
    assert isinstance(app.wsgi_app, FastCast)
    seen = [0]
    flask_app = app.wsgi_app.wsgi_app

    def counted(environ: dict[str, Any], start_response: Any) -> Any:
        seen[0] += 1
        return flask_app(environ, start_response)

    app.wsgi_app.wsgi_app = counted
    return Client(app), Client(Flask.wsgi_app.__get__(app)), seen


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def neighbours(deployed: Engine) -> Community:
    """The ``harmony`` community, each member with a web sign-in code (``community.codes``)."""
    return make_community(deployed, "harmony", sign_in_codes=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Page tests (``pytestmark = pytest.mark.pages``) run on SQLite only, but for the journeys marked
    ``both_backends``: a page adds no query of its own (what it reads, the API reads too, and the API's and the engine's
    tests run on both backends), so running every page twice bought only time. A test marked ``backend_independent``
    runs on SQLite only too: what it checks sends no SQL whose outcome could differ by backend (the OpenAPI document,
    the message catalogues, static files); a refusal whose point is that nothing reaches PostgreSQL (an integer too
    large, a NUL character) is not one of them and keeps both."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("database_url") == "postgresql"
        if on_postgres and item.get_closest_marker("backend_independent"):
            dropped.append(item)
        elif on_postgres and item.get_closest_marker("pages") and not item.get_closest_marker("both_backends"):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
