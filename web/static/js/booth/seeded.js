// A DETERMINISTIC source of scalars, for the fixed vectors (tests/vectors/ballot-encryption-v1.json) and tests
// ONLY: the Seeded class of tests/test_ballot_encryption.py — the n-th scalar is
// SHA-512("yishi-test-randomness|<seed>|<n>") read little-endian, mod (ℓ − 1), plus 1.
// Nothing in the booth imports this module; a caller selects it explicitly: encryptBallot(e, c, x, { rng }).
import { L, bytesToNumberLE } from './group.js';
import { sha512 } from './hashing.js';

const utf8 = new TextEncoder();

export function seeded(seed) {
  let n = 0;
  return () => {
    n += 1;
    return (bytesToNumberLE(sha512(utf8.encode(`yishi-test-randomness|${seed}|${n}`))) % (L - 1n)) + 1n;
  };
}
