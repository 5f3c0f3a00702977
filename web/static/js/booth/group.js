// ristretto255 (RFC 9496) for yishi-e2e/1, docs/ballot-encryption.md §1: a thin wrapper over the vendored
// @noble/curves, as engine/voting/encryption/group.py is over libsodium. No curve arithmetic here.
//
// Points are noble's RistrettoPoint objects; bytes are their 32-byte canonical encodings (equal points ⇔ equal
// bytes). Scalars are BigInts mod ℓ, encoded in 32 bytes little-endian (libsodium's convention).
import { ristretto255 } from '../../vendor/@noble/curves/ed25519.js';

const { Point } = ristretto255;
export const GROUP = 'ristretto255';
export const L = 2n ** 252n + 27742317777372353535851937790883648493n; // ℓ, the prime order
export const SIZE = 32;
export const BASE = Point.BASE; // G
export const IDENTITY = Point.ZERO;

export class EncodingError extends Error {}

// §1 Scalars: integers mod ℓ, 32 bytes little-endian; decoding refuses a value ≥ ℓ (one encoding per scalar).
export const mod = (x) => ((x % L) + L) % L;

export function scalarToBytes(s) {
  const out = new Uint8Array(SIZE);
  let v = mod(s);
  for (let i = 0; i < SIZE; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

export function bytesToNumberLE(bytes) {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

export function decodeScalar(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SIZE) throw new EncodingError('a scalar is 32 bytes');
  const v = bytesToNumberLE(bytes);
  if (v >= L) throw new EncodingError('a scalar must be reduced modulo the group order');
  return v;
}

// §1 Points. Encodings are cached per point object: decoding then hashing a point must not re-encode it.
const encoded = new WeakMap();

export function encodePoint(p) {
  let bytes = encoded.get(p);
  if (!bytes) {
    bytes = p.toBytes();
    encoded.set(p, bytes);
  }
  return bytes;
}

// Refuses what RFC 9496 refuses (non-canonical, negative, not a point) and bit 255 set — noble refuses it too,
// but rbcl's libsodium does not, so the Python side checks it by hand and so do we, explicitly. The identity
// (32 zero bytes) is refused unless allowed: keys, credentials and a ballot's ciphertexts may not be it.
export function decodePoint(bytes, allowIdentity = false) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SIZE) throw new EncodingError('a point is 32 bytes');
  if (bytes[31] & 0x80) throw new EncodingError('not the canonical encoding of a ristretto255 point');
  let p;
  try {
    p = Point.fromBytes(bytes);
  } catch {
    throw new EncodingError('not the canonical encoding of a ristretto255 point');
  }
  if (!allowIdentity && bytes.every((b) => b === 0)) throw new EncodingError('the identity is refused here');
  encoded.set(p, Uint8Array.from(bytes));
  return p;
}

export const isIdentity = (p) => p.equals(IDENTITY);

// §1 "legitimate inside computations (g^0 …)": noble's multiply() refuses 0 (as libsodium's plain multiplication
// does), so a zero scalar gives the identity here, like libsodium's *_allow_scalar_zero.
// mulSecret: constant-time, for secrets (randomness r, w, the credential); mulPublic: faster, for public values
// (published responses and challenges) only.
export function mulSecret(p, s) {
  const k = mod(s);
  return k === 0n ? IDENTITY : p.multiply(k);
}

export function mulPublic(p, s) {
  return p.multiplyUnsafe(mod(s));
}

export const baseMul = (s) => mulSecret(BASE, s);

// G·m for a small plaintext m (exponential ElGamal's encoding of a count; m = 0 is the identity).
export const small = (m) => mulPublic(BASE, BigInt(m));

// A uniformly random scalar in [1, ℓ−1] from crypto.getRandomValues, by rejection sampling (as Python's
// secrets.randbelow(ℓ−1) + 1): 253 random bits, kept only when 1 ≤ v < ℓ (about one draw in two).
export function randomScalar() {
  const buf = new Uint8Array(SIZE);
  for (;;) {
    crypto.getRandomValues(buf);
    buf[31] &= 0x1f;
    const v = bytesToNumberLE(buf);
    if (v !== 0n && v < L) return v;
  }
}
