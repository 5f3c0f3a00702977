"""A webhook's signing secret as the database keeps it: sealed (AES-256-GCM) under a key derived from the audit key.

HMAC needs the secret itself to sign, so it cannot be hashed as tokens and sign-in codes are; sealed, a reader of the
database (or of its backups) still cannot sign a delivery a receiver would trust. The key comes from the audit key
(``EngineContext.secret``), which lives outside the database and is the same in every server and worker. The
webhook's id is the associated data, so a sealed secret copied onto another webhook does not open. We use
``cryptography``'s AESGCM (already a dependency, for the checkpoints' Ed25519) rather than anything hand-made.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PURPOSE = "webhook secrets"
"""What the audit key's derived secret is for (``EngineContext.secret``)."""
FORMAT = "v1"


def _key(secret: bytes) -> bytes:
    return hashlib.sha256(b"yishi webhook secrets\0" + secret).digest()


def seal(key: bytes, webhook_id: int, plain: str) -> str:
    """``v1.<nonce>.<ciphertext>`` (URL-safe base64): what the ``secret`` column holds."""
    nonce = os.urandom(12)
    sealed = AESGCM(_key(key)).encrypt(nonce, plain.encode("utf-8"), str(webhook_id).encode("ascii"))
    return ".".join((FORMAT, _b64(nonce), _b64(sealed)))


def unseal(key: bytes, webhook_id: int, stored: str) -> str | None:
    """The secret, or None when it does not open (another deployment's audit key, or a value changed in the database):
    the delivery then fails and is retried, never signed with something else."""
    parts = stored.split(".")
    if len(parts) != 3 or parts[0] != FORMAT:
        return None
    try:
        plain = AESGCM(_key(key)).decrypt(_unb64(parts[1]), _unb64(parts[2]), str(webhook_id).encode("ascii"))
    except (InvalidTag, ValueError):
        return None
    return plain.decode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
