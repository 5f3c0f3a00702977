"""The web app for people: server-rendered pages beside the JSON API, a second thin adapter over the same Engine.

``install(app)`` sets up what every page shares (``web.site``: sessions, locales, security headers, error pages) and
registers one blueprint per area, each nested in the site blueprint so the site's hooks run for its pages and for
no API request. Views call the same engine commands and queries as the JSON API; they hold no domain rule.

The site blueprint serves ``web/static/`` (the pages' CSS and scripts, and the vendored third-party assets listed in
``web/static/vendor/manifest.json``) under ``/static/``; the API documentation page loads its Swagger UI from there
too, never from a CDN.
"""

from __future__ import annotations

from flask import Flask

from web import i18n, site
from web.account import routes as account_pages
from web.audit import routes as audit_pages
from web.consultation import routes as consultation_pages
from web.conventions import routes as convention_pages
from web.desk import routes as desk_pages
from web.home import routes as home_pages
from web.notifications import routes as notification_pages
from web.pdca import routes as pdca_pages
import web.register.routes as register_pages
from web.voting import routes as voting_pages

STATIC_URL_PATH = site.STATIC_URL_PATH
SWAGGER_UI_URL = f"{STATIC_URL_PATH}/vendor/swagger-ui-dist/"
"""Where flask-smorest's documentation page loads Swagger UI from (``OPENAPI_SWAGGER_UI_URL``)."""

AREAS = (account_pages.blp, home_pages.blp, consultation_pages.blp, voting_pages.blp, convention_pages.blp, pdca_pages.blp,
         notification_pages.blp, desk_pages.blp, audit_pages.blp, register_pages.blp)
for area in AREAS:
    site.blp.register_blueprint(area)


def install(app: Flask) -> None:
    i18n.install(app)
    site.install(app)
    app.register_blueprint(site.blp)
