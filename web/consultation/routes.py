"""Consultations (协商): the topic, who is affected and the deadline; a resident gives, edits and withdraws opinions and reads the committee's answer to each; the committee answers them; the minutes and the outcome."""

from __future__ import annotations

from flask import Blueprint

blp = Blueprint("consultation", __name__, template_folder="templates")
