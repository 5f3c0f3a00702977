"""Configuration by object, as in the Flask tutorial; the environment can override the database."""

from __future__ import annotations

import os
from pathlib import Path

from web import SWAGGER_UI_URL

DEFAULT_DATABASE = Path.cwd() / "var" / "yishi.sqlite3"
DEFAULT_AUDIT_KEY = Path.cwd() / "var" / "audit-key.pem"


class Config:
    YISHI_DATABASE_URL = os.environ.get("YISHI_DATABASE_URL", f"sqlite:///{DEFAULT_DATABASE}")
    YISHI_AUDIT_KEY = os.environ.get("YISHI_AUDIT_KEY", str(DEFAULT_AUDIT_KEY))
    """The Ed25519 key that signs checkpoints; keep it outside the database (and its backups)."""
    YISHI_DEMO_MODE = os.environ.get("YISHI_DEMO_MODE", "").lower() in ("1", "true", "yes", "on")
    """A demonstration deployment (``scripts/run``): an admin may advance the demo clock. Off unless asked for."""
    YISHI_PUBLIC_URL = os.environ.get("YISHI_PUBLIC_URL") or None
    """The address residents reach the site at (``https://yishi.example.org``), printed with a QR code on sign-in letters;
    without it a letter names the host the admin used, which behind a reverse proxy may be an internal one."""
    MAX_CONTENT_LENGTH = 4 * 1024 * 1024
    MAX_BUNDLE_LENGTH = 64 * 1024 * 1024
    """An audit bundle sent to POST /api/audit/verify-bundle may be this large; check larger ones offline."""
    JSON_SORT_KEYS = False

    API_TITLE = "Yishi (议事) API"
    API_VERSION = "1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = SWAGGER_UI_URL
    """Swagger UI vendored under web/static/vendor/ (scripts/vendor-assets), so the docs need no network."""
    API_SPEC_OPTIONS = {
        "info": {
            "description": "Participatory deliberation for urban communities: consultations, opinions, "
            "answers and a verifiable history. Authenticate with `Authorization: Bearer <token>`.",
        },
        "security": [{"bearerAuth": []}],
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    }
