"""Yishi's HTTP API: a thin Flask layer over ``engine.kernel.bus.Engine``."""

from api.app import create_app

__all__ = ["create_app"]
