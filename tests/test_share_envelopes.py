"""Share envelopes (docs/ballot-encryption.md §4.1, ``yishi-envelope/1``): ECIES over ristretto255 with AES-256-GCM.

A share sealed to a trustee opens with their envelope secret only; an envelope moved to another vote, dealer or
recipient, or altered in any byte, does not open; a fixed vector pins the format (a change that would make an
envelope sealed by an older client unreadable fails here).
"""

from __future__ import annotations

import pytest

from engine.voting.encryption import envelopes as ev
from engine.voting.encryption.group import Scalar, base_mul, random_scalar

SECRET, EPHEMERAL, SHARE = Scalar(11111), Scalar(22222), Scalar(123456789)
VECTOR = ("ac559ddae7a4a0401e41582101cd6665f74eb472d9930015fa5597ff9ddcc948"
          "c214f9649786b37f13a15c6894b3fa147199d09bec98cf49ac8ecf264a61b6b42f6eb142c64d11e17a7221b70b8f5206")


def test_the_fixed_vector_pins_the_format() -> None:
    sealed = ev.seal("vote-1", 1, 2, base_mul(SECRET), SHARE, ephemeral=EPHEMERAL)
    assert sealed == VECTOR and len(sealed) == ev.LENGTH
    assert ev.open_envelope("vote-1", 1, 2, SECRET, VECTOR) == SHARE


def test_a_sealed_share_opens_for_its_recipient_only() -> None:
    secret, share = random_scalar(), random_scalar()
    sealed = ev.seal("v", 3, 1, base_mul(secret), share)
    assert ev.open_envelope("v", 3, 1, secret, sealed) == share
    assert sealed != ev.seal("v", 3, 1, base_mul(secret), share)  # a fresh ephemeral key every time
    with pytest.raises(ev.EnvelopeError):
        ev.open_envelope("v", 3, 1, random_scalar(), sealed)


@pytest.mark.parametrize("vote, dealer, recipient", [("vote-2", 1, 2), ("vote-1", 3, 2), ("vote-1", 1, 3)])
def test_an_envelope_moved_to_another_vote_dealer_or_recipient_does_not_open(vote: str, dealer: int, recipient: int) -> None:
    with pytest.raises(ev.EnvelopeError):
        ev.open_envelope(vote, dealer, recipient, SECRET, VECTOR)


def test_every_altered_byte_is_refused() -> None:
    for i in range(0, ev.LENGTH, 2):
        flipped = format(int(VECTOR[i:i + 2], 16) ^ 0x01, "02x")
        with pytest.raises(ev.EnvelopeError):
            ev.open_envelope("vote-1", 1, 2, SECRET, VECTOR[:i] + flipped + VECTOR[i + 2:])


@pytest.mark.parametrize("bad", ["", VECTOR[:-2], VECTOR + "00", VECTOR.upper(), "zz" + VECTOR[2:], 7])
def test_a_malformed_envelope_is_refused(bad: object) -> None:
    with pytest.raises(ev.EnvelopeError):
        ev.open_envelope("vote-1", 1, 2, SECRET, bad)  # type: ignore[arg-type]
