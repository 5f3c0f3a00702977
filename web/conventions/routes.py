"""The community convention (社区公约): the adopted text, the draft under discussion article by article, the difference between any two versions, amendments (propose, support, withdraw, comment) and each amendment's decision."""

from __future__ import annotations

from flask import Blueprint

blp = Blueprint("conventions", __name__, template_folder="templates")
