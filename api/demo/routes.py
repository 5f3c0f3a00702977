"""The demo clock: read it (anyone signed in); advance it (an admin, in demo mode only)."""

from __future__ import annotations

from typing import Any

from api.auth import actor
from api.demo.schemas import AdvanceDemoClockSchema, DemoClockAdvancedSchema, DemoClockSchema
from api.views import Blueprint, engine
from engine.kernel import demo

blp = Blueprint("demo", __name__, url_prefix="/api/demo", description="The demo clock (demo deployments only)")


@blp.route("/clock")
@blp.response(200, DemoClockSchema)
def get_clock() -> Any:
    """The engine's time and the demo offset; ``demo`` says whether this deployment may advance it."""
    actor()
    return demo.status(engine())


@blp.route("/clock", methods=["POST"])
@blp.arguments(AdvanceDemoClockSchema)
@blp.response(200, DemoClockAdvancedSchema)
def advance_clock(args: dict[str, Any]) -> Any:
    """Advance the demo clock (admins, demo mode only: 409 otherwise), then fire the timers now due."""
    seconds = demo.parse_duration(args["advance"])
    advanced = engine().advance_demo_clock(seconds, actor=actor())
    return {**demo.status(engine()), "advanced_seconds": advanced.seconds, "from_at": advanced.from_at,
            "to_at": advanced.to_at, "fired": advanced.fired}
