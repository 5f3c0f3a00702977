"""The Flask application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from api import auth, errors, metrics
from api import health
from api.audit import routes as audit
from api.config import Config
from api.consultation import routes as consultation
from api.conventions import routes as conventions
from api.demo import routes as demo
from api.identity import routes as identity
from api.me import routes as me
from api.limits import BoundedRequest, DatabaseInteger, check_path_values
from api.openapi import ErrorResponses, YishiApi
from api.pdca import routes as pdca
from api.views import close_reader
from api.voting import routes as voting
from api.voting import fast_cast
from api.webhooks import routes as webhooks
from api.workflows import definitions, instances, tasks
from engine.kernel.clock import Clock
from engine.kernel.db import Database
from engine.bootstrap import Engine, EngineConfig
import web

BLUEPRINTS = (
    health.blp, identity.blp, definitions.blp, instances.blp, tasks.blp, consultation.blp, voting.blp, conventions.blp,
    pdca.blp, audit.blp, demo.blp, me.blp, webhooks.blp,
)


def create_app(config: type | dict[str, Any] = Config, *, engine: Engine | None = None, clock: Clock | None = None) -> Flask:
    """Build the app; tests pass their own ``engine`` (and clock) instead of a database URL."""
    app = Flask(__name__, static_folder=None)  # static files are the web blueprint's (web/static/, under /static/)
    app.request_class = BoundedRequest
    app.url_map.converters["int"] = DatabaseInteger
    app.url_value_preprocessor(check_path_values)
    if isinstance(config, dict):
        app.config.from_object(Config)
        app.config.update(config)
    else:
        app.config.from_object(config)
    if engine is None:
        engine = Engine(Database(app.config["YISHI_DATABASE_URL"]), clock, EngineConfig(audit_key=Path(app.config["YISHI_AUDIT_KEY"]),
                                                                                  demo=bool(app.config.get("YISHI_DEMO_MODE"))))
    app.extensions["yishi"] = engine

    api = YishiApi(app, spec_kwargs={"extra_plugins": [ErrorResponses()]})
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    web.install(app)
    errors.register(app)
    metrics.install(app)
    app.before_request(auth.load_actor)
    app.teardown_appcontext(close_reader)
    fast_cast.install(app)
    return app
