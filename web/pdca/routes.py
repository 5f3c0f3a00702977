"""Service quality (PDCA): a member's service requests and complaints with their answers, rating a service while its window is open, and each series' report with its charts and trend table."""

from __future__ import annotations

from flask import Blueprint

blp = Blueprint("pdca", __name__, template_folder="templates")
