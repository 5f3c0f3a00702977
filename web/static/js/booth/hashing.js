// Hashing to scalars with domain separation, docs/ballot-encryption.md §2 (engine/voting/encryption/hashing.py):
// hash_to_scalar(kind, parts…) = expand_message_xmd(SHA-512, msg, DST, 64) read little-endian, mod ℓ, with
// DST = "yishi-e2e/1/ristretto255/<kind>" and msg = the parts, each prefixed by its length (4 bytes big-endian).
import { expand_message_xmd } from '../../vendor/@noble/curves/abstract/hash-to-curve.js';
import { sha256, sha512 } from '../../vendor/@noble/hashes/sha2.js';
import { GROUP, L, bytesToNumberLE, encodePoint, scalarToBytes, BASE } from './group.js';

export const PROTOCOL = 'yishi-e2e/1';
export const KINDS = ['zero-one', 'range', 'signature', 'dealer-pok', 'key-share-pok', 'decryption'];
export { sha256 };

const utf8 = new TextEncoder();
const PointClass = BASE.constructor;

export function dst(kind) {
  if (!KINDS.includes(kind)) throw new Error(`unknown proof kind ${kind}`);
  return utf8.encode(`${PROTOCOL}/${GROUP}/${kind}`);
}

// §2 parts: a point → its 32 bytes; a scalar (BigInt) → 32 bytes little-endian; a text → UTF-8;
// an integer (a JS number: vote ids' positions, trustee numbers) → 8 bytes big-endian; bytes as they are.
// (In Python, ints are integers and Scalar objects are scalars: here Number vs BigInt carries that difference.)
function partBytes(part) {
  if (part instanceof Uint8Array) return part;
  if (part instanceof PointClass) return encodePoint(part);
  if (typeof part === 'bigint') return scalarToBytes(part);
  if (typeof part === 'string') return utf8.encode(part);
  if (Number.isSafeInteger(part) && part >= 0) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(part));
    return out;
  }
  throw new TypeError(`cannot hash ${typeof part}`);
}

export function encodeParts(parts) {
  const chunks = parts.map(partBytes);
  const out = new Uint8Array(chunks.reduce((n, c) => n + 4 + c.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const c of chunks) {
    view.setUint32(at, c.length);
    out.set(c, at + 4);
    at += 4 + c.length;
  }
  return out;
}

export function hashToScalar(kind, ...parts) {
  const uniform = expand_message_xmd(encodeParts(parts), dst(kind), 64, sha512);
  return bytesToNumberLE(uniform) % L;
}

export { expand_message_xmd, sha512 };
