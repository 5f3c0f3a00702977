"""``yishi ballot``: a voter's device in an encrypted vote — the reference client for API integrators
(docs/ballot-encryption.md §5, §6, §13.3).

The choice is encrypted here, never sent in clear; the server gets a ballot it can check but not read.

- ``cast VOTE CHOICE…``: fetch the ceremony (``GET /api/votes/{id}/ceremony``), check the election before trusting
  it — the fingerprint φ recomputed from the descriptor, the election key the sum of the dealers' checked
  commitments, the trustees' keys the ones their proofs check — make or load this device's credential for the vote,
  register it, encrypt the choice with its proofs, cast it and print its tracker. Voting again replaces the ballot
  (the last one counts).
- ``audit VOTE CHOICE…``: Benaloh's cast-or-audit. Encrypt the choice exactly as ``cast`` would, send the server
  only the tracker (it will never cast that ballot), open the ballot here with its randomness, say which choice it
  encrypts, and save ``{"format", "election", "ballot", "randomness"}`` for anyone to check with
  ``yishi tally --audit FILE``. Then cast: a fresh encryption.
- ``check VOTE TRACKER``: after the decryption, find the tracker on the encrypted board — counted, replaced by a
  later ballot, audited, or absent — with the listed ballot hashed again here.

The credential (docs §5) is one file per vote under ``--home`` (``<vote id>.voter``, mode 0600 in a 0700
directory). It is **not** encrypted under a passphrase, unlike a trustee's secrets: the server takes a ballot made
under a credential only from the voter it is registered to, so the file alone casts nothing — whoever holds it also
needs the voter's API token, which sits beside it on the same device (in the environment, in the shell's history).
A passphrase on one and not the other would protect nothing and cost every voter a prompt at every ballot. What
the file must never hold, it does not: no choice, no randomness of a cast ballot (they are forgotten once the
ballot is made). Lose it, and this vote's ballot can no longer be changed (the server keeps one credential per
voter); the file is useless once the vote closes.

Every failure — a server's refusal, a network error, an election that does not check — is one line on stderr and
exit code 1. The token is sent in a header only, never printed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from cli.device import checked_vote_id, vote_file, write_private
from cli.transport import HttpTransport, Transport, call, refusal
from cli.trustee import checked_dealings
from engine.voting.encryption import ballots as eb
from engine.voting.encryption import encoding
from engine.voting.encryption import trustees as et
from engine.voting.encryption.group import EncodingError, Scalar, base_mul, random_scalar

CREDENTIAL_FORMAT = "yishi-voter-credential/1"
AUDIT_FORMAT = "yishi-ballot-audit/1"
"""What ``yishi tally --audit`` reads (engine/audit/offline/ballot_audit.py)."""
TRACKER = re.compile(r"[0-9a-f]{64}")


@dataclass
class Voter:
    transport: Transport
    home: Path


# ---- the election, checked before it is trusted ----------------------------------------------------------------------

def trusted_election(state: dict[str, Any], vote_id: str) -> eb.Election:
    """The election of the ceremony the server shows, once everything a voter can check about it checks.

    A server that shows another vote's election, a fingerprint φ that its descriptor does not hash to, or a key of
    its own making instead of the trustees' (the key it could decrypt single ballots with) is refused here."""
    try:
        election = eb.Election.from_json(state["election"])
        if election.vote != vote_id:
            raise click.ClickException(f"the server shows the election of vote {election.vote!r} for vote {vote_id!r}: refusing")
        if state["fingerprint"] != election.fingerprint.hex():
            raise click.ClickException("the server's fingerprint φ is not the hash of its election descriptor: refusing")
        dealings = checked_dealings(state, vote_id)
        shares = sorted((et.KeyShare.from_json(s) for s in state["key_shares"]), key=lambda s: s.trustee)
        for share in shares:
            et.verify_key_share(vote_id, list(dealings.values()), share)
        qualified = [t["number"] for t in state["trustees"] if t["number"] not in election.disqualified]
        if (sorted(dealings) != qualified or qualified != list(election.numbers)  # the disqualified dealt no part (§4.3)
                or election.key != et.election_key(list(dealings.values()))
                or election.threshold != state["threshold"]):
            raise click.ClickException("the election key is not the one the trustees' published commitments make: refusing")
    except et.BadTrustee as exc:
        raise click.ClickException(f"the published key share of {exc}: refusing") from exc
    except (EncodingError, KeyError, TypeError, AttributeError) as exc:
        raise click.ClickException(f"the server's election data does not read: {exc}") from exc
    if election.trustees != tuple(s.key for s in shares):
        raise click.ClickException("the election's trustee keys are not the trustees' published keys: refusing")
    return election


def open_election(voter: Voter, vote_id: str) -> eb.Election:
    state = call(voter.transport, "GET", f"/api/votes/{checked_vote_id(vote_id)}/ceremony")
    if not isinstance(state, dict) or "state" not in state:
        raise click.ClickException("the server's answer is not a ceremony (is this a Yishi server?)")
    if state["state"] == "keying":
        raise click.ClickException("the trustees have not made the election key yet: ballots open once they have")
    if state["state"] != "open":
        raise click.ClickException(f"vote {vote_id} is closed (the ceremony is {state['state']})")
    return trusted_election(state, vote_id)


def choice_of(election: eb.Election, words: tuple[str, ...]) -> Any:
    """The choice in the method's usual form: one word (yes/no/abstain, an option id), or several for approval
    (where ``abstain`` alone is the empty approval)."""
    if election.method == "approval":
        choice: Any = [] if words == (eb.ABSTAIN,) else list(words)
    else:
        choice = words[0] if len(words) == 1 else None
    if choice is None:
        raise click.ClickException(f"one choice in a {election.method} vote: {', '.join(election.slots)}")
    try:
        eb.values_for(election, choice)
    except ValueError as exc:
        raise click.ClickException(f"not a choice in this vote: {exc}") from exc
    return choice


# ---- the credential: one per vote, on this device ----------------------------------------------------------------

def credential(home: Path, vote_id: str) -> Scalar:
    """This device's credential secret for the vote, made and kept (before the server hears of it) the first time."""
    path = vote_file(home, vote_id, "voter")
    if not path.exists():
        secret = random_scalar()
        write_private(path, {"format": CREDENTIAL_FORMAT, "vote": vote_id, "secret": encoding.hx(secret),
                             "credential": encoding.hx(base_mul(secret))})
        return secret
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != CREDENTIAL_FORMAT or document.get("vote") != vote_id:
            raise ValueError(f"not a {CREDENTIAL_FORMAT} file for vote {vote_id}")
        return encoding.scalar(document["secret"], "secret")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from exc


def register(voter: Voter, vote_id: str, secret: Scalar) -> None:
    public = encoding.hx(base_mul(secret))
    status, answer = voter.transport.request("POST", f"/api/votes/{vote_id}/credentials", {"credential": public})
    if status == 409:
        raise click.ClickException(
            f"the server refused this device's credential ({refusal(answer)}): a ballot of yours is changed only from "
            f"the device that holds {vote_file(voter.home, vote_id, 'voter')}")
    if status != 201:
        raise click.ClickException(f"the server answered {status}: {refusal(answer)}")
    if not isinstance(answer, dict) or answer.get("credential") != public:
        raise click.ClickException("the server registered another credential than this device's: refusing")


def prepared(voter: Voter, vote_id: str, words: tuple[str, ...]) -> tuple[eb.Election, Any, Scalar]:
    """The checked election, the choice, and this device's credential registered for the vote."""
    election = open_election(voter, vote_id)
    choice = choice_of(election, words)
    secret = credential(voter.home, vote_id)
    register(voter, vote_id, secret)
    return election, choice, secret


def answered_tracker(answer: Any, tracker: str) -> None:
    if not isinstance(answer, dict) or answer.get("tracker") != tracker:
        got = answer.get("tracker") if isinstance(answer, dict) else None
        raise click.ClickException(f"the server answered tracker {got}, not this ballot's {tracker}: keep both and tell the committee")


# ---- the commands ------------------------------------------------------------------------------------------------

@click.group()
@click.option("--server", envvar="YISHI_SERVER", default="http://127.0.0.1:8000", show_default=True,
              help="The Yishi server's address.")
@click.option("--token", envvar="YISHI_TOKEN", default=None, help="Your API token (or YISHI_TOKEN).")
@click.option("--home", envvar="YISHI_VOTER_HOME", type=click.Path(file_okay=False, path_type=Path),
              default=Path.home() / ".yishi" / "voter", show_default=True,
              help="Where this device keeps your credential, one file per vote.")
@click.pass_context
def ballot(ctx: click.Context, server: str, token: str | None, home: Path) -> None:
    """A voter's device for an encrypted vote: cast, audit a ballot instead of casting it, check a tracker."""
    given = ctx.obj.get("transport") if isinstance(ctx.obj, dict) else None
    if given is None:
        if not token:
            raise click.UsageError("your API token is needed: --token or YISHI_TOKEN")
        given = HttpTransport(server, token)
    ctx.obj = Voter(given, home)


@ballot.command()
@click.argument("vote_id")
@click.argument("words", metavar="CHOICE...", nargs=-1, required=True)
@click.pass_obj
def cast(voter: Voter, vote_id: str, words: tuple[str, ...]) -> None:
    """Encrypt CHOICE here and cast it (yes, no, abstain or an option id; several for approval). Print the tracker."""
    election, choice, secret = prepared(voter, vote_id, words)
    made, _ = eb.encrypt_ballot(election, secret, choice)  # the randomness is dropped: nothing here can open it
    tracker = eb.tracker(made)
    answer = call(voter.transport, "POST", f"/api/votes/{vote_id}/encrypted-ballots", {"ballot": made.to_json()})
    answered_tracker(answer, tracker)
    replaced = " (it replaces your previous ballot)" if answer.get("changed") else ""
    click.echo(f"ballot cast in vote {vote_id}{replaced}; tracker {tracker}")


@ballot.command()
@click.argument("vote_id")
@click.argument("words", metavar="CHOICE...", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to save the opened ballot (default: ballot-audit-<tracker>.json here).")
@click.pass_obj
def audit(voter: Voter, vote_id: str, words: tuple[str, ...], output: Path | None) -> None:
    """Encrypt CHOICE as `cast` would, but audit it instead (Benaloh): the server gets only its tracker and never
    casts it; the ballot is opened here and saved for anyone to check with `yishi tally --audit FILE`."""
    election, choice, secret = prepared(voter, vote_id, words)
    made, randomness = eb.encrypt_ballot(election, secret, choice)
    tracker = eb.tracker(made)
    answered_tracker(call(voter.transport, "POST", f"/api/votes/{vote_id}/audited-ballots", {"tracker": tracker}), tracker)
    try:
        opened = eb.audit(election, made, randomness)
    except eb.BallotRefused as exc:
        raise click.ClickException(f"this device made a ballot that does not open: {exc}; do not vote with it") from exc
    if opened != choice:
        raise click.ClickException(f"the ballot encrypts {opened!r}, not your choice {choice!r}: do not vote with this device")
    path = output or Path(f"ballot-audit-{tracker[:16]}.json")
    document = {"format": AUDIT_FORMAT, "election": election.descriptor(), **eb.audit_to_json(made, randomness)}
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    shown = (", ".join(opened) or eb.ABSTAIN) if isinstance(opened, list) else opened
    click.echo(f"ballot audited in vote {vote_id}, never to be cast: tracker {tracker} encrypts {shown}; "
               f"opened in {path} (yishi tally --audit {path}). Now cast a fresh one: yishi ballot cast")


@ballot.command()
@click.argument("vote_id")
@click.argument("tracker")
@click.pass_obj
def check(voter: Voter, vote_id: str, tracker: str) -> None:
    """Find TRACKER on the vote's encrypted board (published with the result): counted, replaced, audited or absent."""
    tracker = tracker.strip().lower()
    if not TRACKER.fullmatch(tracker):
        raise click.ClickException("a tracker is 64 hexadecimal characters")
    status, board = voter.transport.request("GET", f"/api/votes/{checked_vote_id(vote_id)}/encrypted-board")
    if status == 409:
        raise click.ClickException(f"the board of vote {vote_id} is not published yet ({refusal(board)}); check again after the decryption")
    if status != 200 or not isinstance(board, dict):
        raise click.ClickException(f"the server answered {status}: {refusal(board)}")
    click.echo(f"tracker {tracker} in vote {vote_id}: {where(board, vote_id, tracker)}")


def where(board: dict[str, Any], vote_id: str, tracker: str) -> str:
    """Where the board lists the tracker, each listed ballot hashed again here; absent is an error (exit 1)."""
    try:
        if board["election"]["vote"] != vote_id:
            raise click.ClickException(f"the server's board is vote {board['election']['vote']!r}'s, not {vote_id!r}'s")
        entry = next((e for e in board["ballots"] if e["tracker"] == tracker), None)
        audited = tracker in board.get("audited", [])
        if entry is not None and eb.tracker(entry["ballot"]) != tracker:
            raise click.ClickException("the board lists this tracker beside a ballot that does not hash to it")
        replaced = entry is not None and entry["replaced"] is not False
    except (KeyError, TypeError) as exc:
        raise click.ClickException(f"the server's board does not read: {exc}") from exc
    if entry is not None:
        return "replaced by a later ballot of the same voter: not counted" if replaced else (
            "counted (the last ballot of its voter); recount the board with yishi tally --verify")
    if audited:
        return "audited by its voter: never cast, never counted"
    raise click.ClickException(f"tracker {tracker} is not on the board of vote {vote_id}: keep it and tell the committee")
