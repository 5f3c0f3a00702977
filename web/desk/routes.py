"""The committee's desk: the tasks of the member's roles, each completed through a form rendered from its JSON Schema; starting a process; in demo mode, the admin's demo clock."""

from __future__ import annotations

from flask import Blueprint

blp = Blueprint("desk", __name__, template_folder="templates")
