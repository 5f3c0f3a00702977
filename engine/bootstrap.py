"""The composition root: the one module that imports every domain, so that what each registers is there.

A domain registers itself as its modules are imported: its command handlers (``@handles``), its
service-task operations (``@operation``), its task preconditions (``@precondition``), its agenda sources (``@agenda_source``), its notification sources (``@notification_source``). The kernel
imports no domain; this module imports them all, then hands out the ``Engine`` that runs
whatever they registered. Build engines from here (``from engine.bootstrap import Engine``).

Importing it also loads each domain's tables into the one ``Base.metadata`` (Alembic's
``engine/migrations/env.py`` reads it from here).
"""

from __future__ import annotations

from engine.audit.sealing import models as audit_models
from engine.consultation import agenda as consultation_agenda
from engine.consultation import handlers as consultation_handlers
from engine.consultation import models as consultation_models
from engine.consultation import notifications as consultation_notifications
from engine.consultation import opinions
from engine.conventions import agenda as conventions_agenda
from engine.conventions import handlers as conventions_handlers
from engine.conventions import models as conventions_models
from engine.conventions import notifications as conventions_notifications
from engine.conventions import operations as conventions_operations
from engine.identity import handlers as identity_handlers
from engine.identity import models as identity_models
from engine.kernel import agenda as kernel_agenda
from engine.kernel import handlers as kernel_handlers
from engine.kernel import notifications as kernel_notifications
from engine.kernel.bus import Engine, EngineConfig
from engine.kernel.models import Base
from engine.pdca import agenda as pdca_agenda
from engine.pdca import cycles
from engine.pdca import handlers as pdca_handlers
from engine.pdca import models as pdca_models
from engine.pdca import notifications as pdca_notifications
from engine.voting import agenda as voting_agenda
from engine.voting import audit as voting_audit
from engine.voting import handlers as voting_handlers
from engine.voting import models as voting_models
from engine.voting import notifications as voting_notifications
from engine.voting import operations as voting_operations
from engine.webhooks import handlers as webhooks_handlers, models as webhooks_models, outbox as webhooks_outbox

DOMAINS = {
    "kernel": (kernel_handlers, kernel_agenda, kernel_notifications),
    "identity": (identity_models, identity_handlers),
    "audit": (audit_models,),
    "consultation": (consultation_models, consultation_handlers, opinions, consultation_agenda, consultation_notifications),
    "voting": (voting_models, voting_handlers, voting_operations, voting_audit, voting_agenda, voting_notifications),
    "conventions": (conventions_models, conventions_handlers, conventions_operations, conventions_agenda,
                    conventions_notifications),
    "pdca": (pdca_models, pdca_handlers, cycles, pdca_agenda, pdca_notifications),
    "webhooks": (webhooks_models, webhooks_handlers, webhooks_outbox),  # not a domain: hears every domain's events
}
"""Each package and the modules of it that register something (tables, handlers, operations, preconditions, agenda and notification sources)."""
metadata = Base.metadata

__all__ = ["DOMAINS", "Engine", "EngineConfig", "metadata"]
