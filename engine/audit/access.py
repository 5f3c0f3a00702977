"""Who may do what with the audit trail: the entry points the API calls, each checking the caller.

- a **public bundle** and the **checkpoints**: any member — a resident can check the history too,
  and a public bundle discloses no personal data;
- a **full bundle** (salts, personal fields, every command's input): auditors and admins;
- **verify**, **replay** and **time travel**: auditors, admins and the committee — they answer
  whether the history holds, and what the instance was; they disclose no one's personal data.

Another community's instance is "not found", as everywhere. Nothing here writes: an auditor
changes nothing by auditing. The operator's CLI, which answers to no role, calls the unchecked
helpers (``community_bundle``, ``replay_report``) directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit.sealing import checkpoints
from engine.audit.offline import verify
from engine.audit.bundles import export
from engine.audit.sealing.checkpoints import Signer
from engine.audit.time_travel import instance_as_of
from engine.kernel.errors import NotFound
from engine.identity.actors import Actor
from engine.kernel.instances import get_instance
from engine.audit.sealing.models import Checkpoint
from engine.kernel.models import Instance
from engine.kernel.queries import Page, paginate
from engine.kernel.replay import replay

FULL_BUNDLE_ROLES = ("auditor", "admin")
CHECKING_ROLES = ("auditor", "admin", "committee")


def trusted_keys(signer: Signer | None) -> dict[str, str]:
    """The deployment's own key: what its bundles name, and what the API pins when it verifies."""
    return {signer.key_id: signer.public_pem} if signer else {}


def community_bundle(
    session: Session, community_id: int, *, signer: Signer | None, now: datetime, instance_id: str | None = None,
    public: bool = False,
) -> dict[str, Any]:
    return export(session, community_id, instance_id=instance_id, public=public, now=now, public_keys=trusted_keys(signer))


def export_bundle(
    session: Session, actor: Actor, *, signer: Signer | None, now: datetime, instance_id: str | None = None,
    public: bool = False,
) -> dict[str, Any]:
    """The caller's community's bundle (or one instance's): public for any member, full for auditors and admins."""
    if not public:
        actor.require(*FULL_BUNDLE_ROLES)
    if instance_id is not None:
        get_instance(session, actor, instance_id)
    return community_bundle(session, actor.community_id, signer=signer, now=now, instance_id=instance_id, public=public)


def verify_stored(
    session: Session, actor: Actor, *, signer: Signer | None, now: datetime, instance_id: str | None = None,
) -> verify.Verdict:
    """Verify the stored history as an auditor would verify its export: every check, replay included,
    against the deployment's key rather than the keys a bundle brings."""
    actor.require(*CHECKING_ROLES)
    if instance_id is not None:
        get_instance(session, actor, instance_id)
    bundle = community_bundle(session, actor.community_id, signer=signer, now=now, instance_id=instance_id)
    return verify.verify(bundle, trusted_keys=trusted_keys(signer))


def verify_uploaded(actor: Actor, bundle: Any, *, signer: Signer | None, replay: bool = True) -> verify.Verdict:
    """The offline checks on a bundle someone brings, pinned to this deployment's key: a bundle that
    claims to come from here must carry checkpoints signed here."""
    actor.require(*CHECKING_ROLES)
    return verify.verify(bundle, replay=replay, trusted_keys=trusted_keys(signer))


def replay_report(session: Session, instance: Instance) -> dict[str, Any]:
    """Replay an instance from its events, as JSON: ``ok``, the events replayed, and each digest that differed."""
    report = replay(session, instance)
    return {
        "instance_id": instance.id, "events": report.events, "ok": report.ok,
        "final_state_matches": report.final_state_matches,
        "mismatches": [{"seq": m.seq, "type": m.event_type, "recorded": m.recorded, "replayed": m.replayed, "error": m.error}
                       for m in report.mismatches],
    }


def replay_instance(session: Session, actor: Actor, instance_id: str) -> dict[str, Any]:
    actor.require(*CHECKING_ROLES)
    return replay_report(session, get_instance(session, actor, instance_id))


def as_of(session: Session, actor: Actor, instance_id: str, seq: int) -> dict[str, Any]:
    """The instance as it was right after its event ``seq`` (replayed, with the path taken up to then)."""
    actor.require(*CHECKING_ROLES)
    return instance_as_of(session, get_instance(session, actor, instance_id), seq).as_dict()


def list_checkpoints(session: Session, actor: Actor, page: int, page_size: int) -> Page[dict[str, Any]]:
    """Signed checkpoints, newest first, with the proofs of the caller's community's heads only: an
    auditor who keeps them can later catch a rewrite of any of those histories. Another community's
    heads stay out; the signed root covers them without naming them, and in format 2 without
    counting them (``engine.audit.sealing.checkpoints``)."""
    found = paginate(session, select(Checkpoint).order_by(Checkpoint.id.desc()), page, page_size)
    items = [checkpoints.view(row, actor.community_id) for row in found.items]
    return Page(items, found.total, found.page, found.page_size)


def public_key(signer: Signer | None) -> dict[str, str]:
    """The key that signs checkpoints: public by nature, so that anyone can pin it."""
    if signer is None:
        raise NotFound("this deployment signs no checkpoints")
    return {"key_id": signer.key_id, "public_pem": signer.public_pem}
