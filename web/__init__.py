"""The web app for people: server-rendered pages beside the JSON API, a second thin adapter over the same Engine.

``install(app)`` registers the web blueprint on the app ``api.create_app`` builds. The blueprint serves
``web/static/`` (the pages' own CSS and the vendored third-party assets, ``web/static/vendor/manifest.json``)
under ``/static/``; the API documentation page loads its Swagger UI from there too, never from a CDN.
"""

from __future__ import annotations

from flask import Blueprint, Flask

STATIC_URL_PATH = "/static"
SWAGGER_UI_URL = f"{STATIC_URL_PATH}/vendor/swagger-ui-dist/"
"""Where flask-smorest's documentation page loads Swagger UI from (``OPENAPI_SWAGGER_UI_URL``)."""

blp = Blueprint("web", __name__, static_folder="static", static_url_path=STATIC_URL_PATH, template_folder="templates")


def install(app: Flask) -> None:
    app.register_blueprint(blp)
