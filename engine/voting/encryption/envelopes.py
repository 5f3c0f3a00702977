"""Share envelopes (docs/ballot-encryption.md §4.1): how dealer i sends trustee j the share s_ij through the server,
which relays and stores it but cannot read it. ECIES over ristretto255 with AES-256-GCM (format ``yishi-envelope/1``):

- trustee j publishes an envelope key P_j = G·p_j with its dealing (p_j stays on j's device);
- the dealer picks a fresh ephemeral e ≠ 0, E = G·e, and the shared point Z = P_j·e (= E·p_j);
- key (32 bytes) ‖ nonce (12 bytes) = ``expand_message_xmd``(SHA-512, parts(E, P_j, Z), DST, 44) with
  DST = ``yishi-e2e/1/ristretto255/share-envelope`` — the KDF of the hashing module (RFC 9380), its own DST;
- the envelope is E ‖ AES-256-GCM(key, nonce, s_ij (32 bytes), AD = parts(vote id, i, j)), in lowercase hex
  (32 + 32 + 16 bytes = 160 characters).

The key is used for one message only (e is fresh each time), so the derived nonce is never reused under it. The
associated data binds the vote and both trustees: an envelope moved to another vote, dealer or recipient does not
open. A failure to open — or a share that does not check against the dealer's commitments — is a complaint against
the dealer (§4.2). Pure: the trustee client and the tests import it; AES-GCM is ``cryptography``'s (OpenSSL).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.voting.encryption import encoding
from engine.voting.encryption.group import EncodingError, Point, Scalar, base_mul, random_scalar
from engine.voting.encryption.hashing import PROTOCOL, encode_parts, expand_message_xmd
from engine.voting.encryption.group import GROUP

FORMAT = "yishi-envelope/1"
DST = f"{PROTOCOL}/{GROUP}/share-envelope".encode()
LENGTH = 2 * (32 + 32 + 16)


class EnvelopeError(ValueError):
    """An envelope that does not decode or does not open (wrong key, altered, or moved to another vote or trustee)."""


def _key_and_nonce(ephemeral: Point, recipient_key: Point, shared: Point) -> tuple[bytes, bytes]:
    okm = expand_message_xmd(encode_parts((ephemeral, recipient_key, shared)), DST, 44)
    return okm[:32], okm[32:]


def _associated(vote: str, dealer: int, recipient: int) -> bytes:
    return encode_parts((FORMAT, vote, dealer, recipient))


def seal(vote: str, dealer: int, recipient: int, recipient_key: Point, share: Scalar,
         ephemeral: Scalar | None = None) -> str:
    """The envelope (hex) carrying ``share`` from ``dealer`` to ``recipient`` under the recipient's envelope key.

    ``ephemeral`` is for the fixed test vectors only; leave it out (a fresh random scalar) everywhere else."""
    e = ephemeral if ephemeral is not None else random_scalar()
    if e.value == 0:
        raise ValueError("the ephemeral scalar must not be zero")
    big_e = base_mul(e)
    key, nonce = _key_and_nonce(big_e, recipient_key, recipient_key * e)
    sealed = AESGCM(key).encrypt(nonce, share.encode(), _associated(vote, dealer, recipient))
    return (big_e.encode() + sealed).hex()


def open_envelope(vote: str, dealer: int, recipient: int, secret: Scalar, envelope: str) -> Scalar:
    """The share inside ``envelope`` for the holder of the envelope key's ``secret``; EnvelopeError if it does not open."""
    if type(envelope) is not str or len(envelope) != LENGTH or envelope != envelope.lower():
        raise EnvelopeError(f"an envelope is {LENGTH} lowercase hexadecimal characters")
    try:
        raw = bytes.fromhex(envelope)
        big_e = encoding.point(envelope[:64], "envelope")
    except (ValueError, EncodingError) as exc:
        raise EnvelopeError(f"the envelope does not decode: {exc}") from exc
    recipient_key = base_mul(secret)
    key, nonce = _key_and_nonce(big_e, recipient_key, big_e * secret)
    try:
        plain = AESGCM(key).decrypt(nonce, raw[32:], _associated(vote, dealer, recipient))
        return Scalar.decode(plain)
    except (InvalidTag, EncodingError) as exc:
        raise EnvelopeError(f"the envelope from trustee {dealer} does not open") from exc
