"""Counting and checking: ``tally``, ``export``, ``verify``, ``verify-bundle`` (offline), ``replay``, ``as-of``, ``checkpoint``."""

from __future__ import annotations

import gc
import json
from typing import Any

import click

from cli.common import community_id_of, echo_json, engine_from, instance_of
from engine.audit import access, time_travel
from engine.audit.offline import ballot_audit, encrypted_board
from engine.audit.offline import verify as audit_verify
from engine.audit.sealing.checkpoints import key_id
from engine.bootstrap import Engine
from engine.identity import members
from engine.kernel.errors import YishiError
from engine.voting.counting import board
from engine.voting.counting.tally import tally as voting_tally


@click.command()
@click.argument("board_file", type=click.File("r", encoding="utf-8"), required=False)
@click.option("--verify", is_flag=True, help="Compare the recount and the Merkle root with what the board publishes.")
@click.option("--audit", "audit_file", type=click.File("r", encoding="utf-8"),
              help="Instead of a board: an audited encrypted ballot saved from the booth; says the choice it encrypts.")
def tally(board_file: Any, verify: bool, audit_file: Any) -> None:
    """Recount a bulletin board (GET /api/votes/{id}/board, saved to a file), offline.

    No database and no server are involved: anyone can check a published result.
    """
    if (board_file is None) == (audit_file is None):
        raise click.UsageError("give a board file, or --audit with an audited ballot's file")
    if audit_file is not None:
        _audited(_json(audit_file))
        return
    document = _json(board_file)
    if encrypted_board.is_encrypted_board(document):
        _encrypted(document, verify)
        return
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


def _json(file: Any) -> Any:
    """The document, parsed with the garbage collector paused: a parse makes no cycles, and a 100,000-ballot board's
    millions of containers would otherwise be walked again and again as they are made (1.7 of 2.9 s of CPU)."""
    gc.disable()
    try:
        return json.load(file)
    except ValueError as exc:
        raise click.ClickException(f"not a JSON document: {exc}") from exc
    finally:
        gc.enable()


def _audited(document: Any) -> None:
    """An audited ballot (Benaloh): its proofs and its opening checked offline, and the choice it encrypted said."""
    verdict = ballot_audit.check(document)
    if not verdict.ok:
        for problem in verdict.problems:
            click.echo(f"MISMATCH: {problem}", err=True)
        raise SystemExit(1)
    click.echo(f"vote: {verdict.vote}  tracker: {verdict.tracker}")
    click.echo(f"this ballot encrypted: {json.dumps(verdict.choice, ensure_ascii=False)}")
    click.echo("verified: the proofs hold and the randomness opens the ballot; an audited ballot is never cast")


def _encrypted(document: dict[str, Any], verify: bool) -> None:
    """An encrypted board: every proof is checked offline, the tally recomputed and decrypted, the result recounted."""
    verdict = encrypted_board.verify(document)
    for line in (verdict.recount or {}).get("explanation", []):
        click.echo(line)
    channels = ", ".join(f"{n} {channel}" for channel, n in sorted(verdict.by_channel.items()))
    click.echo(f"encrypted ballots: {verdict.ballots} ({verdict.counted} counted{': ' + channels if channels else ''})"
               f"  root: {document.get('root')}")
    if not verdict.ok:
        for problem in verdict.problems:
            click.echo(f"MISMATCH: {problem}", err=True)
        raise SystemExit(1)
    click.echo("verified: every ballot proof, the tally, every decryption proof and the recount match the published result")


def _report(verdict: audit_verify.Verdict, what: str) -> bool:
    """Print what was checked and every problem; whether it holds (the commands exit 1 when not, for scripts and cron)."""
    click.echo(f"{what}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(verdict.counts.items())))
    if verdict.key_ids:
        click.echo("checkpoints signed by key " + ", ".join(verdict.key_ids))
    for note in verdict.notes:
        click.echo(f"NOTE {note}")
    for problem in verdict.problems:
        click.echo(f"PROBLEM [{problem.check}] {problem.message}", err=True)
    if verdict.ok:
        click.echo("verified: the history holds")
    return verdict.ok


@click.command()
@click.option("--community", "slug", required=True, help="The community's slug.")
@click.option("--instance", "instance_id", help="Only this instance (default: the whole community).")
@click.option("--public", is_flag=True, help="Digests in place of personal data and salts (cannot be replayed).")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="File to write (default: stdout).")
@click.pass_obj
def export(obj: dict[str, Any], slug: str, instance_id: str | None, public: bool, output: Any) -> None:
    """Export an audit bundle: one JSON file that `yishi verify-bundle` checks with no database."""
    engine = engine_from(obj)
    with engine.read() as session:
        community_id = community_id_of(session, slug)
        if instance_id is not None and instance_of(session, instance_id).community_id != community_id:
            raise click.ClickException(f"instance {instance_id} is not of the community {slug!r}")
        bundle = access.community_bundle(session, community_id, signer=engine.signer, now=engine.clock.now(),
                                         instance_id=instance_id, public=public)
    echo_json(bundle, output)


@click.command("verify")
@click.option("--community", "slug", help="The community's slug (default: every community).")
@click.option("--instance", "instance_id", help="Only this instance.")
@click.pass_obj
def verify_stored(obj: dict[str, Any], slug: str | None, instance_id: str | None) -> None:
    """Verify the stored history: every check of `verify-bundle`, replay included, against this deployment's key."""
    engine = engine_from(obj)
    with engine.read() as session:
        if instance_id is not None:
            scopes = [(instance_of(session, instance_id).community_id, instance_id)]
        elif slug is not None:
            scopes = [(community_id_of(session, slug), None)]
        else:
            scopes = [(community_id, None) for community_id in members.community_ids(session)]
        held = [_report(_verified(engine, session, community_id, scoped), f"community {community_id}" + (f", instance {scoped}" if scoped else ""))
                for community_id, scoped in scopes]
    if not all(held):
        raise SystemExit(1)


def _verified(engine: Engine, session: Any, community_id: int, instance_id: str | None) -> audit_verify.Verdict:
    bundle = access.community_bundle(session, community_id, signer=engine.signer, now=engine.clock.now(), instance_id=instance_id)
    return audit_verify.verify(bundle, trusted_keys=access.trusted_keys(engine.signer))


@click.command("verify-bundle")
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


@click.command()
@click.argument("instance_id")
@click.pass_obj
def replay(obj: dict[str, Any], instance_id: str) -> None:
    """Replay an instance from its stored events and compare every state digest (exit 1 on a mismatch)."""
    with engine_from(obj).read() as session:
        report = access.replay_report(session, instance_of(session, instance_id))
    echo_json(report)
    if not report["ok"]:
        raise SystemExit(1)


@click.command("as-of")
@click.argument("instance_id")
@click.argument("seq", type=click.IntRange(min=1))
@click.pass_obj
def as_of(obj: dict[str, Any], instance_id: str, seq: int) -> None:
    """Time travel: the instance right after its event SEQ (open tasks, data, timers, the path taken)."""
    with engine_from(obj).read() as session:
        try:
            snapshot = time_travel.instance_as_of(session, instance_of(session, instance_id), seq)
        except YishiError as exc:
            raise click.ClickException(exc.message) from exc
    echo_json(snapshot.as_dict())


@click.command()
@click.option("--reason", default="manual", show_default=True, help="Why it is signed (kept in the statement).")
@click.pass_obj
def checkpoint(obj: dict[str, Any], reason: str) -> None:
    """Sign a checkpoint of every chain head now (the worker also signs one periodically)."""
    signed = engine_from(obj).checkpoint(reason)
    assert signed is not None  # the CLI always has a key file
    click.echo(f"checkpoint {signed.id} signed over {len(signed.heads)} chain head(s), root {signed.root}")
