"""The composition root: the one module that imports every domain, so that what each registers is there.

Importing this module loads each domain's tables into the one ``Base.metadata`` (so Alembic and
``Base.metadata`` see every table).
"""

from __future__ import annotations

from engine.audit.sealing import models as audit_models
from engine.consultation import models as consultation_models
from engine.conventions import models as conventions_models
from engine.identity import models as identity_models
from engine.kernel.models import Base
from engine.pdca import models as pdca_models
from engine.voting import models as voting_models

# each registers its service operations and task preconditions
from engine.consultation import opinions  # noqa: E402,F401
from engine.conventions import amendments, operations  # noqa: E402,F401
from engine.pdca import actions, cycles  # noqa: E402,F401
from engine.voting import operations as voting_operations  # noqa: E402,F401
from engine.kernel.bus import Engine, EngineConfig  # noqa: E402

__all__ = ["Engine", "EngineConfig", "metadata"]

DOMAIN_MODELS = (identity_models, audit_models, consultation_models, voting_models, conventions_models, pdca_models)
"""Each domain's tables, on the kernel's one declarative ``Base``."""
metadata = Base.metadata
