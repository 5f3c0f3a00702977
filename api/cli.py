"""The ``yishi`` command: serve the API, run the timer worker, migrate, deploy, seed a demo, recount
a board, and audit: export bundles, verify them (offline too), replay, time travel, sign checkpoints.

The server is gunicorn (a production WSGI server), never Flask's development server.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from api.config import Config
from engine import commands, identity
from engine.audit import access, time_travel
from engine.audit import verify as audit_verify
from engine.audit.checkpoints import key_id
from engine.errors import YishiError
from engine.voting import board
from engine.voting.tally import tally as voting_tally
from engine.db import Database
from engine.models import Community, Instance, Member
from engine.service import Engine, EngineConfig
from engine.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
DEMO_MEMBERS = (
    ("王主任 Wang (committee chair)", ["committee", "resident"]),
    ("李委员 Li (committee)", ["committee", "resident"]),
    ("张阿姨 Zhang (resident)", ["resident"]),
    ("陈先生 Chen (resident)", ["resident"]),
    ("刘同学 Liu (resident)", ["resident"]),
    ("审计员 Auditor", ["auditor"]),
    ("物业维修 Repairs provider", ["provider"]),
    ("街道办 Street office", ["street_office"]),
    ("管理员 Admin", ["admin"]),
)


def _engine(obj: dict[str, Any]) -> Engine:
    return Engine(Database(obj["database"]), config=EngineConfig(audit_key=Path(obj["audit_key"])))


@click.group()
@click.option("--database", envvar="YISHI_DATABASE_URL", default=Config.YISHI_DATABASE_URL, show_default=True,
              help="SQLAlchemy URL (SQLite by default; postgresql+psycopg://… to scale out).")
@click.option("--audit-key", envvar="YISHI_AUDIT_KEY", default=Config.YISHI_AUDIT_KEY, show_default=True,
              help="Ed25519 key file that signs checkpoints (created on first use); keep it out of the database's backups.")
@click.pass_context
def main(ctx: click.Context, database: str, audit_key: str) -> None:
    """Yishi (议事): participatory deliberation workflows for urban communities."""
    if database.startswith("sqlite:///"):
        Path(database.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    ctx.obj = {"database": database, "audit_key": audit_key}


@main.command()
@click.pass_obj
def migrate(obj: dict[str, Any]) -> None:
    """Create or upgrade the database schema."""
    _engine(obj).db.migrate()
    click.echo("schema is up to date")


@main.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def deploy(obj: dict[str, Any], files: tuple[Path, ...]) -> None:
    """Deploy BPMN and DMN files as the platform's versions, or every bundled process and decision table when none is named.

    Whoever runs this holds the database: the platform operator. A community runs a new platform
    version only once its admin adopts it (POST /api/definitions/KEY/adopt); a community's own
    versions are deployed by its admins through the API."""
    engine = _engine(obj)
    engine.db.migrate()
    if not files:
        deployments = engine.deploy_bundled()
    else:
        deployments = [engine.execute(commands.DeployDefinition(f.name, f.read_bytes())) for f in files]
    for d in deployments:
        state = "deployed" if d.created else "unchanged"
        click.echo(f"platform {d.definition.key} v{d.definition.version} {state} (sha256 {d.definition.sha256[:12]}…)")


@main.command()
@click.option("--slug", default="demo", show_default=True)
@click.pass_obj
def demo(obj: dict[str, Any], slug: str) -> None:
    """Create (or reuse) a demo community and print a fresh API token for each of its members."""
    engine = _engine(obj)
    engine.db.migrate()
    for name, roles, token in seed_demo(engine, slug):
        click.echo(f"  {','.join(roles):<20} {name:<32} {token}")


def seed_demo(engine: Engine, slug: str) -> list[tuple[str, list[str], str]]:
    with UnitOfWork(engine.db, engine.clock) as uow:
        community = uow.session.scalar(select(Community).where(Community.slug == slug))
        if community is None:
            community = identity.create_community(uow.session, slug, "和谐花园社区 Harmony Garden (demo)", "Asia/Shanghai", uow.now)
            for name, roles in DEMO_MEMBERS:
                identity.add_member(uow.session, community, name, roles, uow.now)
        members = uow.session.scalars(select(Member).where(Member.community_id == community.id).order_by(Member.id))
        issued = [(m.name, m.roles, identity.issue_token(uow.session, m, "demo", uow.now)) for m in members]
        uow.commit()
    return issued


@main.command()
@click.argument("board_file", type=click.File("r", encoding="utf-8"))
@click.option("--verify", is_flag=True, help="Compare the recount and the Merkle root with what the board publishes.")
def tally(board_file: Any, verify: bool) -> None:
    """Recount a bulletin board (GET /api/votes/{id}/board, saved to a file), offline.

    No database and no server are involved: anyone can check a published result.
    """
    try:
        document = json.load(board_file)
    except ValueError as exc:
        raise click.ClickException(f"not a JSON document: {exc}") from exc
    try:
        verdict = board.verify(document) if verify else None
        recount = verdict.recount if verdict else voting_tally(
            [{k: v for k, v in e.items() if k != "fingerprint"} for e in document["ballots"]], document["vote"], document["electorate"])
    except (KeyError, TypeError) as exc:
        raise click.ClickException(f"not a bulletin board: missing {exc}") from exc
    except YishiError as exc:
        raise click.ClickException(exc.message) from exc
    for line in (recount or {}).get("explanation", []):
        click.echo(line)
    if verdict is None:
        return
    click.echo(f"ballots: {len(document['ballots'])}  root: {verdict.root}")
    if not verdict.ok:
        for problem in verdict.problems:
            click.echo(f"MISMATCH: {problem}", err=True)
        raise SystemExit(1)
    click.echo("verified: the root and the recount match the published result")


@main.command()
@click.option("--once", is_flag=True, help="Fire what is due now, sign a checkpoint if anything changed, and exit (for cron).")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between polls.")
@click.option("--checkpoint-every", default=600.0, show_default=True,
              help="Seconds between signed checkpoints of every chain head (only when a history grew).")
@click.option("--metrics-port", type=int, default=None,
              help="Serve Prometheus metrics (commands, timers fired, incidents) on this port, at /metrics.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address the metrics listen on.")
@click.pass_obj
def worker(obj: dict[str, Any], once: bool, interval: float, checkpoint_every: float,
           metrics_port: int | None, metrics_host: str) -> None:
    """Fire due BPMN timers, and sign checkpoints periodically.

    Several workers may run against one PostgreSQL database: each claims an instance before firing
    its timers, and checkpoints are signed one at a time. A sweep or a checkpoint that fails (the
    database is away) is logged and tried again after the interval. SIGTERM or SIGINT stops the worker
    once the instance it is firing has committed, and it exits 0.
    """
    engine = _engine(obj)
    engine.db.migrate()
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from api import metrics

        metrics.watch(engine)
        start_http_server(metrics_port, metrics_host, registry=metrics.registry())
    if once:
        _work(engine, None, checkpoint_now=True, once=True)
        return
    stop = _stopped_by_signals()
    next_checkpoint = time.monotonic()
    while not stop.is_set():
        try:
            if _work(engine, stop, checkpoint_now=time.monotonic() >= next_checkpoint, once=False):
                next_checkpoint = time.monotonic() + checkpoint_every
        except Exception:  # noqa: BLE001 — the worker outlives a failed sweep; the next one tries again
            log.exception("the worker's sweep failed; trying again in %s s", interval)
        stop.wait(interval)


def _stopped_by_signals() -> threading.Event:
    """An event set by SIGTERM (systemd, docker stop) and SIGINT (Ctrl-C), so the worker stops between
    two instances' transactions rather than in one, and does not sleep out its interval first."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    return stop


def _work(engine: Engine, stop: threading.Event | None, *, checkpoint_now: bool, once: bool) -> bool:
    """One round of the worker: fire what is due, then sign a checkpoint if asked; whether it signed.
    ``--once`` (cron) reports even a sweep that fired nothing, and fails (exit 1) if the round does."""
    fired = engine.fire_due_timers(stop=stop)
    if fired or once:
        click.echo(f"fired timers of {fired} instance(s)")
    if not checkpoint_now:
        return False
    signed = engine.checkpoint("periodic", only_if_changed=True)
    if signed is not None:
        click.echo(f"checkpoint {signed.id} signed over {len(signed.heads)} chain head(s)")
    return True


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=16, show_default=True,
              help="Threads per worker: ballots its threads cast at the same moment share one transaction. "
                   "1 runs gunicorn's sync workers (one connection per request, no keep-alive).")
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="Log every request to stdout.")
@click.option("--demo/--no-demo", "with_demo", default=True, show_default=True, help="Seed the demo community.")
@click.pass_obj
def serve(obj: dict[str, Any], host: str, port: int, workers: int, threads: int, access_log: bool, with_demo: bool) -> None:
    """Migrate, deploy the bundled processes, and serve the API with gunicorn."""
    engine = _engine(obj)
    engine.db.migrate()
    for d in engine.deploy_bundled():
        kind = "decision table" if d.definition.kind == "dmn" else "process"
        click.echo(f"{kind} {d.definition.key} v{d.definition.version} ready")
    if with_demo:
        click.echo("Demo community tokens (use as 'Authorization: Bearer <token>'):")
        for name, roles, token in seed_demo(engine, "demo"):
            click.echo(f"  {','.join(roles):<20} {name:<32} {token}")
    assert engine.signer is not None
    click.echo(f"Checkpoints are signed with key {engine.signer.key_id[:16]}… ({obj['audit_key']})")
    click.echo(f"Swagger UI: http://{host}:{port}/api/docs   OpenAPI: http://{host}:{port}/api/openapi.json")
    engine.db.dispose()
    _empty_metrics_dir()
    _gunicorn(f"{host}:{port}", workers, threads, access_log, obj)


def _empty_metrics_dir() -> None:
    """Multiprocess metrics (``PROMETHEUS_MULTIPROC_DIR``, see ``api.metrics``): create the directory, or
    empty it of the previous run's samples, before gunicorn's processes count anew (as their counters do)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    for stale in Path(directory).glob("*.db"):
        stale.unlink()


def _gunicorn(bind: str, workers: int, threads: int, access_log: bool, obj: dict[str, Any]) -> None:
    from gunicorn.app.base import BaseApplication

    from api.app import create_app

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings = {"bind": bind, "workers": workers, "threads": threads, "accesslog": "-" if access_log else None,
                        "child_exit": lambda _server, worker: _process_exited(worker.pid)}
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app({"YISHI_DATABASE_URL": obj["database"], "YISHI_AUDIT_KEY": obj["audit_key"]})

    Server().run()


def _process_exited(pid: int) -> None:
    """gunicorn's ``child_exit`` hook: in multiprocess mode, forget the live samples of a worker process that is gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


# ---- the audit trail: the operator's commands (no role: whoever holds the database holds it all) ----


def _community_id(session: Any, slug: str) -> int:
    community = session.scalar(select(Community).where(Community.slug == slug))
    if community is None:
        raise click.ClickException(f"no community {slug!r}")
    return community.id


def _instance(session: Any, instance_id: str) -> Instance:
    instance = session.get(Instance, instance_id)
    if instance is None:
        raise click.ClickException(f"no instance {instance_id!r}")
    return instance


def _echo_json(document: Any, output: Any = None) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2), file=output)


def _report(verdict: audit_verify.Verdict, what: str) -> bool:
    """Print what was checked and every problem; whether it holds (the commands exit 1 when not, for scripts and cron)."""
    click.echo(f"{what}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(verdict.counts.items())))
    if verdict.key_ids:
        click.echo("checkpoints signed by key " + ", ".join(verdict.key_ids))
    for problem in verdict.problems:
        click.echo(f"PROBLEM [{problem.check}] {problem.message}", err=True)
    if verdict.ok:
        click.echo("verified: the history holds")
    return verdict.ok


@main.command()
@click.option("--community", "slug", required=True, help="The community's slug.")
@click.option("--instance", "instance_id", help="Only this instance (default: the whole community).")
@click.option("--public", is_flag=True, help="Digests in place of personal data and salts (cannot be replayed).")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="File to write (default: stdout).")
@click.pass_obj
def export(obj: dict[str, Any], slug: str, instance_id: str | None, public: bool, output: Any) -> None:
    """Export an audit bundle: one JSON file that `yishi verify-bundle` checks with no database."""
    engine = _engine(obj)
    with engine.read() as session:
        community_id = _community_id(session, slug)
        if instance_id is not None and _instance(session, instance_id).community_id != community_id:
            raise click.ClickException(f"instance {instance_id} is not of the community {slug!r}")
        bundle = access.community_bundle(session, community_id, signer=engine.signer, now=engine.clock.now(),
                                         instance_id=instance_id, public=public)
    _echo_json(bundle, output)


@main.command("verify")
@click.option("--community", "slug", help="The community's slug (default: every community).")
@click.option("--instance", "instance_id", help="Only this instance.")
@click.pass_obj
def verify_stored(obj: dict[str, Any], slug: str | None, instance_id: str | None) -> None:
    """Verify the stored history: every check of `verify-bundle`, replay included, against this deployment's key."""
    engine = _engine(obj)
    with engine.read() as session:
        if instance_id is not None:
            scopes = [(_instance(session, instance_id).community_id, instance_id)]
        elif slug is not None:
            scopes = [(_community_id(session, slug), None)]
        else:
            scopes = [(community_id, None) for community_id in session.scalars(select(Community.id).order_by(Community.id))]
        held = [_report(_verified(engine, session, community_id, scoped), f"community {community_id}" + (f", instance {scoped}" if scoped else ""))
                for community_id, scoped in scopes]
    if not all(held):
        raise SystemExit(1)


def _verified(engine: Engine, session: Any, community_id: int, instance_id: str | None) -> audit_verify.Verdict:
    bundle = access.community_bundle(session, community_id, signer=engine.signer, now=engine.clock.now(), instance_id=instance_id)
    return audit_verify.verify(bundle, trusted_keys=access.trusted_keys(engine.signer))


@main.command("verify-bundle")
@click.argument("bundle_file", type=click.File("r", encoding="utf-8"))
@click.option("--public-key", "public_key", type=click.File("r", encoding="utf-8"), multiple=True,
              help="PEM file of the deployment's key (GET /api/audit/public-key): trust it instead of the keys the bundle names. "
                   "Repeat it for every key the deployment has signed with (after a rotation, the old and the new).")
@click.option("--no-replay", is_flag=True, help="Skip re-applying the commands (the slowest check).")
@click.option("--known-checkpoints", type=click.File("r", encoding="utf-8"),
              help="JSON of checkpoints you kept (a list, or a page of GET /api/audit/checkpoints): each must still be in the bundle.")
def verify_bundle(bundle_file: Any, public_key: tuple[Any, ...], no_replay: bool, known_checkpoints: Any) -> None:
    """Check an audit bundle offline: no database, no server, only the file (and the keys you trust)."""
    try:
        bundle = json.load(bundle_file)
    except ValueError as exc:
        raise click.ClickException(f"not a JSON document: {exc}") from exc
    trusted = None
    for file in public_key:
        pem = file.read()
        try:
            trusted = {**(trusted or {}), key_id(pem): pem}
        except ValueError as exc:
            raise click.ClickException(f"{file.name}: not a PEM public key: {exc}") from exc
    try:
        verdict = audit_verify.verify(bundle, replay=not no_replay, trusted_keys=trusted, known_checkpoints=_kept(known_checkpoints))
    except YishiError as exc:
        for error in exc.details.get("errors", []):
            click.echo(f"  {error['field']}: {error['message']}", err=True)
        raise click.ClickException(exc.message) from exc
    if not _report(verdict, "checked"):
        raise SystemExit(1)


def _kept(file: Any) -> list[dict[str, Any]]:
    if file is None:
        return []
    try:
        kept = json.load(file)
    except ValueError as exc:
        raise click.ClickException(f"the known checkpoints are not a JSON document: {exc}") from exc
    kept = kept.get("items") if isinstance(kept, dict) else kept
    if not isinstance(kept, list) or not all(isinstance(c, dict) and {"id", "at", "reason", "root", "previous"} <= c.keys() for c in kept):
        raise click.ClickException("the known checkpoints must be a list of checkpoints (id, at, reason, root, previous)")
    return kept


@main.command()
@click.argument("instance_id")
@click.pass_obj
def replay(obj: dict[str, Any], instance_id: str) -> None:
    """Replay an instance from its stored events and compare every state digest (exit 1 on a mismatch)."""
    with _engine(obj).read() as session:
        report = access.replay_report(session, _instance(session, instance_id))
    _echo_json(report)
    if not report["ok"]:
        raise SystemExit(1)


@main.command("as-of")
@click.argument("instance_id")
@click.argument("seq", type=click.IntRange(min=1))
@click.pass_obj
def as_of(obj: dict[str, Any], instance_id: str, seq: int) -> None:
    """Time travel: the instance right after its event SEQ (open tasks, data, timers, the path taken)."""
    with _engine(obj).read() as session:
        try:
            snapshot = time_travel.instance_as_of(session, _instance(session, instance_id), seq)
        except YishiError as exc:
            raise click.ClickException(exc.message) from exc
    _echo_json(snapshot.as_dict())


@main.command()
@click.option("--reason", default="manual", show_default=True, help="Why it is signed (kept in the statement).")
@click.pass_obj
def checkpoint(obj: dict[str, Any], reason: str) -> None:
    """Sign a checkpoint of every chain head now (the worker also signs one periodically)."""
    signed = _engine(obj).checkpoint(reason)
    assert signed is not None  # the CLI always has a key file
    click.echo(f"checkpoint {signed.id} signed over {len(signed.heads)} chain head(s), root {signed.root}")
