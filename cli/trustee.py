"""``yishi trustee``: a trustee's device in an encrypted vote's key ceremony and decryption (docs/ballot-encryption.md §4, §8).

The trustee's secrets — the dealing polynomial, the shares dealt to the others, the envelope key, the key share
x_j — never leave this device in clear. They live in one file per vote (``<home>/<vote id>.trustee``), **encrypted at
rest under a passphrase**: scrypt (N = 2^15, r = 8, p = 1, a random 16-byte salt; RFC 7914, memory-hard, so a
stolen file resists guessing) derives a 256-bit key; AES-256-GCM (a fresh 96-bit nonce at every write) encrypts the
secrets, its associated data binding the file's header (format, vote, trustee, server, KDF parameters) so that
none of it can be altered without the file failing to open. Both come from ``cryptography`` (OpenSSL), already a
dependency of Yishi; PyNaCl is not installed and would add nothing here (libsodium's own secretbox/argon2 would do
the same job). The passphrase comes from a prompt, or from ``YISHI_TRUSTEE_PASSPHRASE`` for scripts and tests;
it is never printed, logged or written anywhere.

The device talks to the server's ceremony API over HTTP with the trustee's API token (``YISHI_TOKEN``):

- ``join VOTE_ID``: deal — a random polynomial of degree k−1, publish its commitments with their proof and a
  fresh envelope key;
- ``shares VOTE_ID``: once every trustee has dealt, seal each other trustee's share in an envelope
  (``engine.voting.encryption.envelopes``, ECIES over ristretto255) and publish them;
- ``keyshare VOTE_ID``: open the envelopes addressed to you, check each share against its dealer's commitments,
  then publish your verification key with its proof — or a complaint naming the dealer whose share failed;
- ``answer VOTE_ID``: reveal, in clear, the share you dealt each trustee who complained about it in this round —
  checked by everyone against your commitments: the complaint is dismissed, or you are disqualified and the key
  generation restarts without you (after a restart, ``join`` deals afresh for the new round);
- ``decrypt VOTE_ID``: once the vote is closed, publish your decryption factors for the tally with their proofs;
- ``status VOTE_ID``: the ceremony as the server shows it, and what this device holds (never the secrets).

Every step checks the server's public data it relies on (dealings' proofs, the other trustees' keys) before using
it: a server that lies about the others' commitments makes the step fail instead of leaking a share.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from cli.device import vote_file, write_private
from cli.transport import HttpTransport, Transport, call
from engine.voting.encryption import ballots as eb
from engine.voting.encryption import encoding, envelopes
from engine.voting.encryption import trustees as et
from engine.voting.encryption.elgamal import Ciphertext
from engine.voting.encryption.group import Scalar, base_mul, random_scalar

KEYSTORE_FORMAT = "yishi-trustee-keystore/1"
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
PASSPHRASE_ENV = "YISHI_TRUSTEE_PASSPHRASE"


# ---- the keystore: secrets encrypted at rest under a passphrase -----------------------------------------------------

@dataclass
class Keystore:
    """One vote's secrets on this device, and where they are kept."""

    path: Path
    header: dict[str, Any]
    secrets: dict[str, Any]
    key: bytes

    @staticmethod
    def derive(passphrase: str, salt: bytes, params: dict[str, int]) -> bytes:
        return Scrypt(salt=salt, length=32, n=params["n"], r=params["r"], p=params["p"]).derive(passphrase.encode())

    @classmethod
    def create(cls, path: Path, header: dict[str, Any], passphrase: str) -> Keystore:
        salt = secrets.token_bytes(16)
        header = {**header, "format": KEYSTORE_FORMAT, "kdf": {"name": "scrypt", **SCRYPT, "salt": salt.hex()},
                  "cipher": "aes-256-gcm"}
        return cls(path, header, {}, cls.derive(passphrase, salt, SCRYPT))

    @classmethod
    def load(cls, path: Path, passphrase: str) -> Keystore:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            header, kdf = document["header"], document["header"]["kdf"]
            if header.get("format") != KEYSTORE_FORMAT or kdf.get("name") != "scrypt":
                raise click.ClickException(f"{path} is not a {KEYSTORE_FORMAT} file")
            key = cls.derive(passphrase, bytes.fromhex(kdf["salt"]), kdf)
            plain = AESGCM(key).decrypt(bytes.fromhex(document["nonce"]), bytes.fromhex(document["ciphertext"]),
                                        _aad(header))
        except InvalidTag:
            raise click.ClickException("wrong passphrase (or the secrets file was altered): nothing was done") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise click.ClickException(f"cannot read {path}: {exc}") from exc
        return cls(path, header, json.loads(plain), key)

    def save(self) -> None:
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self.key).encrypt(nonce, json.dumps(self.secrets, sort_keys=True).encode(), _aad(self.header))
        write_private(self.path, {"header": self.header, "nonce": nonce.hex(), "ciphertext": sealed.hex()})

    def scalar(self, name: str) -> Scalar:
        return encoding.scalar(self.secrets[name], name)


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def keystore_path(home: Path, vote_id: str) -> Path:
    return vote_file(home, vote_id, "trustee")


# ---- the commands --------------------------------------------------------------------------------------------------

@dataclass
class Device:
    transport: Transport
    home: Path
    passphrase_from_env: str | None

    def passphrase(self, confirm: bool = False) -> str:
        if self.passphrase_from_env:
            return self.passphrase_from_env
        return click.prompt("Passphrase for this vote's trustee secrets", hide_input=True,
                            confirmation_prompt=confirm)

    def ceremony(self, vote_id: str) -> dict[str, Any]:
        return call(self.transport, "GET", f"/api/votes/{vote_id}/ceremony")

    def open(self, vote_id: str) -> Keystore:
        path = keystore_path(self.home, vote_id)
        if not path.exists():
            raise click.ClickException(f"no trustee secrets for vote {vote_id} here ({path}): run `yishi trustee join` first")
        return Keystore.load(path, self.passphrase())


def checked_dealings(state: dict[str, Any], vote_id: str) -> dict[int, et.Dealing]:
    """Every published dealing, each checked again here (the server is not trusted with them)."""
    dealings = {}
    for entry in state["dealings"]:
        dealing = et.Dealing.from_json(entry["dealing"])
        if dealing.dealer != entry["trustee"]:
            raise click.ClickException(f"the server lists trustee {entry['trustee']}'s dealing as dealer {dealing.dealer}'s")
        try:
            et.verify_dealing(vote_id, dealing, state["threshold"])
        except et.BadTrustee as exc:
            raise click.ClickException(f"the published dealing of {exc}") from exc
        dealings[dealing.dealer] = dealing
    return dealings


@click.group()
@click.option("--server", envvar="YISHI_SERVER", default="http://127.0.0.1:8000", show_default=True,
              help="The Yishi server's address.")
@click.option("--token", envvar="YISHI_TOKEN", default=None, help="Your API token (or YISHI_TOKEN).")
@click.option("--home", envvar="YISHI_TRUSTEE_HOME", type=click.Path(file_okay=False, path_type=Path),
              default=Path.home() / ".yishi" / "trustee", show_default=True,
              help="Where this device keeps its encrypted trustee secrets, one file per vote.")
@click.pass_context
def trustee(ctx: click.Context, server: str, token: str | None, home: Path) -> None:
    """A trustee's device for an encrypted vote: deal, send shares, publish the key share, decrypt.

    Secrets stay in HOME, encrypted under your passphrase (asked for, or YISHI_TRUSTEE_PASSPHRASE)."""
    given = ctx.obj.get("transport") if isinstance(ctx.obj, dict) else None
    if given is None:
        if not token:
            raise click.UsageError("your API token is needed: --token or YISHI_TOKEN")
        given = HttpTransport(server, token)
    ctx.obj = Device(given, home, os.environ.get(PASSPHRASE_ENV) or None)


@trustee.command()
@click.argument("vote_id")
@click.pass_obj
def join(device: Device, vote_id: str) -> None:
    """Deal: make your polynomial and envelope key here, publish the commitments, the proof and the envelope key."""
    state = device.ceremony(vote_id)
    j, k, n = state.get("you"), state["threshold"], len(state["trustees"])
    if j is None:
        raise click.ClickException("you are not a trustee of this vote")
    if j in state["disqualified"]:
        raise click.ClickException(f"you (trustee {j}) were disqualified from this vote's key ceremony")
    path = keystore_path(device.home, vote_id)
    fresh = not path.exists()
    store = (Keystore.create(path, {"vote": vote_id, "trustee": j, "threshold": k, "trustees": n},
                             device.passphrase(confirm=True)) if fresh else Keystore.load(path, device.passphrase()))
    if fresh or store.secrets.get("round", 0) < state["round"]:
        if state["state"] != "keying":
            raise click.ClickException(f"the ceremony is {state['state']}: too late to deal")
        deal_round(store, vote_id, j, k, n, state["round"])
        store.save()  # before publishing: a crash after it cannot lose the polynomial the server has seen
    same_round(store, state)
    body = {"dealing": store.secrets["dealing"], "envelope_key": encoding.hx(base_mul(store.scalar("envelope_secret")))}
    call(device.transport, "POST", f"/api/votes/{vote_id}/ceremony/dealings", body)
    again = f" (round {state['round']}: the key generation restarted)" if state["round"] else ""
    click.echo(f"trustee {j} of {n} (k = {k}) dealt for vote {vote_id}{again}; secrets kept in {path}")


def deal_round(store: Keystore, vote_id: str, j: int, k: int, n: int, round_: int) -> None:
    """A fresh polynomial and envelope key for this round, replacing an earlier round's: a restarted key generation
    reuses nothing, and an ended round's secrets are of no further use (its shares will never be combined), so the
    device keeps only what the current round needs."""
    coefficients, dealing, shares = et.deal(vote_id, j, k, n)
    store.secrets = {
        "round": round_,
        "coefficients": [encoding.hx(a) for a in coefficients],
        "shares": {str(i): encoding.hx(s) for i, s in shares.items()},
        "envelope_secret": encoding.hx(random_scalar()),
        "dealing": dealing.to_json(),
    }


def same_round(store: Keystore, state: dict[str, Any]) -> None:
    """This device's secrets are for the ceremony's current round (else the trustee must ``join`` again)."""
    held = store.secrets.get("round", 0)
    if held < state["round"]:
        raise click.ClickException(f"the key generation restarted (round {state['round']}, trustees "
                                   f"{', '.join(map(str, state['disqualified']))} disqualified): run `yishi trustee join` "
                                   "to deal afresh")
    if held > state["round"]:
        raise click.ClickException(f"this device holds round {held}'s secrets but the server shows round {state['round']}")


def qualified_numbers(state: dict[str, Any]) -> list[int]:
    return [t["number"] for t in state["trustees"] if t["number"] not in state["disqualified"]]


@trustee.command()
@click.argument("vote_id")
@click.pass_obj
def shares(device: Device, vote_id: str) -> None:
    """Seal each other trustee's share in an envelope to their envelope key and publish them (after everyone dealt)."""
    store = device.open(vote_id)
    state = device.ceremony(vote_id)
    same_round(store, state)
    j, others = store.header["trustee"], qualified_numbers(state)
    keys = {d["trustee"]: encoding.point(d["envelope_key"], "envelope_key") for d in state["dealings"]}
    missing = sorted(set(others) - set(keys))
    if missing:
        raise click.ClickException(f"waiting for trustees {', '.join(map(str, missing))} to deal")
    checked_dealings(state, vote_id)
    sealed = {str(i): envelopes.seal(vote_id, j, i, keys[i], encoding.scalar(store.secrets["shares"][str(i)]))
              for i in others if i != j}
    call(device.transport, "POST", f"/api/votes/{vote_id}/ceremony/envelopes", {"envelopes": sealed})
    click.echo(f"trustee {j}: sent sealed shares to trustees {', '.join(sorted(sealed, key=int))}")


@trustee.command()
@click.argument("vote_id")
@click.pass_obj
def keyshare(device: Device, vote_id: str) -> None:
    """Open the shares sent to you, check each against its dealer's commitments, and publish your verification key
    — or a complaint against each dealer whose share does not open or does not check. A dealer who answered your
    complaint with a share that checks has it taken instead of the envelope's."""
    store = device.open(vote_id)
    state = device.ceremony(vote_id)
    same_round(store, state)
    j, n = store.header["trustee"], len(qualified_numbers(state))
    dealings = checked_dealings(state, vote_id)
    received = call(device.transport, "GET", f"/api/votes/{vote_id}/ceremony/envelopes")
    got = {item["dealer"]: item["envelope"] for item in received}
    revealed = {c["dealer"]: c["answer"] for c in state["complaints"] if c["trustee"] == j and c["answer"]}
    missing = sorted(set(qualified_numbers(state)) - {j} - set(got))
    if missing:
        raise click.ClickException(f"waiting for shares from trustees {', '.join(map(str, missing))}")
    own = encoding.scalar(store.secrets["shares"][str(j)])
    collected, bad = [own], []
    secret = store.scalar("envelope_secret")
    for dealer in sorted(got):
        try:
            share = (encoding.scalar(revealed[dealer], "answer") if dealer in revealed
                     else envelopes.open_envelope(vote_id, dealer, j, secret, got[dealer]))
        except envelopes.EnvelopeError:
            bad.append(dealer)
            continue
        if dealer not in dealings or not et.verify_share(dealings[dealer], j, share):
            bad.append(dealer)
            continue
        collected.append(share)
    if bad:
        complained = {c["dealer"] for c in state["complaints"] if c["trustee"] == j}
        for dealer in bad:
            call(device.transport, "POST", f"/api/votes/{vote_id}/ceremony/complaints", {"dealer": dealer})
        waiting = [d for d in bad if d in complained]
        raise click.ClickException(
            f"the shares from trustees {', '.join(map(str, bad))} do not check: complaint published; each dealer must "
            f"answer within {state['answer_hours']} hours (`yishi trustee answer`), then run keyshare again"
            + (f" (still waiting for {', '.join(map(str, waiting))})" if waiting else ""))
    x, published = et.key_share(vote_id, j, collected)
    store.secrets["key_share"] = encoding.hx(x)
    store.save()
    call(device.transport, "POST", f"/api/votes/{vote_id}/ceremony/key-shares", {"key_share": published.to_json()})
    click.echo(f"trustee {j}: all {n - 1} shares check; verification key published")


@trustee.command()
@click.argument("vote_id")
@click.pass_obj
def answer(device: Device, vote_id: str) -> None:
    """Answer each complaint against you in this round by revealing, in clear, the share you dealt the complainant.

    Everyone can check it against your commitments: if it checks the complaint is dismissed; if not, you are
    disqualified. Not answering within the vote's answer_hours lets anyone have you disqualified."""
    store = device.open(vote_id)
    state = device.ceremony(vote_id)
    same_round(store, state)
    j = store.header["trustee"]
    if state.get("you") != j:
        raise click.ClickException(f"this device holds trustee {j}'s secrets but the server says you are {state.get('you')}")
    against = [c for c in state["complaints"] if c["dealer"] == j and c["answer"] is None]
    if not against:
        click.echo(f"trustee {j}: no complaint against you awaits an answer")
        return
    for complaint in against:
        complainant = complaint["trustee"]
        if complainant == j or str(complainant) not in store.secrets["shares"]:
            raise click.ClickException(f"the server lists a complaint from trustee {complainant}, who got no share from you")
        body = {"complainant": complainant, "share": store.secrets["shares"][str(complainant)]}
        after = call(device.transport, "POST", f"/api/votes/{vote_id}/ceremony/answers", body)
        if j in after["disqualified"]:
            raise click.ClickException(f"the share you dealt trustee {complainant} does not check against your "
                                       "commitments: you are disqualified and the key generation restarts without you")
        click.echo(f"trustee {j}: answered trustee {complainant}'s complaint; the share checks, the complaint is dismissed")


@trustee.command()
@click.argument("vote_id")
@click.pass_obj
def decrypt(device: Device, vote_id: str) -> None:
    """Publish your decryption factors of the closed vote's tally, each with its Chaum–Pedersen proof."""
    store = device.open(vote_id)
    if "key_share" not in store.secrets:
        raise click.ClickException("this device has no key share for the vote (run `yishi trustee keyshare` first)")
    state = device.ceremony(vote_id)
    same_round(store, state)
    if state["state"] not in ("decrypting", "decided") or not state.get("tally"):
        raise click.ClickException(f"there is nothing to decrypt yet: the ceremony is {state['state']}")
    j, x = store.header["trustee"], store.scalar("key_share")
    mine = next((share for share in state["key_shares"] if share["trustee"] == j), None)
    if mine is None or encoding.point(mine["key"], "key") != base_mul(x):
        raise click.ClickException("the server does not show this device's verification key: refusing to decrypt")
    election = eb.Election.from_json(state["election"])
    if election.key != et.election_key(list(checked_dealings(state, vote_id).values())):
        raise click.ClickException("the election key the server shows is not the sum of the dealers' commitments")
    fingerprint = election.fingerprint  # recomputed here from the descriptor, not taken from the server
    sums = [Ciphertext.from_json(c, allow_identity=True) for c in state["tally"]["ciphertexts"]]
    partial = et.decrypt_partially(fingerprint, j, x, sums)
    answer = call(device.transport, "POST", f"/api/votes/{vote_id}/ceremony/decryptions", {"partial": partial.to_json()})
    click.echo(f"trustee {j}: decryption published for {len(sums)} sums; the ceremony is {answer['state']}")


@trustee.command()
@click.argument("vote_id")
@click.pass_obj
def status(device: Device, vote_id: str) -> None:
    """The ceremony's state, who has published what, and what this device holds (names only, never a secret)."""
    state = device.ceremony(vote_id)
    click.echo(f"vote {vote_id}: {state['state']}, k = {state['threshold']} of n = {len(state['trustees'])}; "
               f"you are trustee {state.get('you') or '— (not a trustee)'}")
    dealt = sorted(d["trustee"] for d in state["dealings"])
    senders = sorted({e["dealer"] for e in state["envelopes"]})
    keyed = sorted(s["trustee"] for s in state["key_shares"])
    decrypted = sorted(p["trustee"] for p in state["decryptions"])
    for label, who in (("dealt", dealt), ("sent shares", senders), ("key shares", keyed), ("decrypted", decrypted)):
        click.echo(f"  {label}: {', '.join(map(str, who)) or 'nobody yet'}")
    click.echo(f"  round {state['round']}; disqualified: {', '.join(map(str, state['disqualified'])) or 'nobody'}")
    for complaint in state["complaints"]:
        verdict = ("answered, the share checks: dismissed" if complaint["answer"] else
                   f"awaiting the dealer's answer until {complaint['deadline']}")
        click.echo(f"  complaint: trustee {complaint['trustee']} against dealer {complaint['dealer']}, {verdict}")
    for past in state["disqualifications"]:
        why = "its revealed share does not check" if past["reason"] == "bad_answer" else "no answer in time"
        click.echo(f"  round {past['round']}: dealer {past['dealer']} disqualified on trustee {past['complainant']}'s "
                   f"complaint ({why})")
    if state["failure"]:
        click.echo(f"  the ceremony failed: {len(state['failure']['qualified'])} trustees remain qualified, fewer than "
                   f"k = {state['failure']['threshold']}; the vote cannot open")
    path = keystore_path(device.home, vote_id)
    if path.exists():  # the header only: no passphrase needed, nothing secret shown
        header = json.loads(path.read_text(encoding="utf-8"))["header"]
        click.echo(f"  this device ({path}): trustee {header['trustee']}'s secrets, encrypted ({header['kdf']['name']}, {header['cipher']})")
    else:
        click.echo(f"  this device holds nothing for this vote ({path})")
