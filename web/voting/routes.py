"""Votes (表决): the question and its options, a ballot for every method, a confirmation step, the receipt shown once, changing a ballot before the close, live turnout; after the close the result in words, the bulletin board, checking a receipt and recounting offline."""

from __future__ import annotations

from flask import Blueprint

blp = Blueprint("voting", __name__, template_folder="templates")
