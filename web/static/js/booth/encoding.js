// The pinned JSON encoding, docs/ballot-encryption.md §1 (engine/voting/encryption/encoding.py, hashing.py):
// points, scalars and hashes as 64 lowercase hex characters; canonical JSON as Python's
// json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False), UTF-8 — RFC 8785 for these objects.
import { EncodingError, decodePoint, decodeScalar, encodePoint, scalarToBytes } from './group.js';

const HEX64 = /^[0-9a-f]{64}$/;
// (String.prototype.isWellFormed would do, but older phone browsers lack it.)
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;
const utf8 = new TextEncoder();

export const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export function fromHex(text) {
  if (typeof text !== 'string' || text.length % 2 || !/^[0-9a-f]*$/.test(text)) {
    throw new EncodingError('lowercase hexadecimal');
  }
  return Uint8Array.from(text.match(/../g) || [], (h) => parseInt(h, 16));
}

// §1: "Decoders refuse upper case, wrong lengths and non-canonical values."
export function hexBytes(value, what = 'value') {
  if (typeof value !== 'string' || !HEX64.test(value)) {
    throw new EncodingError(`${what}: 64 lowercase hexadecimal characters`);
  }
  return fromHex(value);
}

export const point = (value, what = 'point', allowIdentity = false) => {
  try {
    return decodePoint(hexBytes(value, what), allowIdentity);
  } catch (e) {
    throw e instanceof EncodingError ? new EncodingError(`${what}: ${e.message}`) : e;
  }
};
export const scalar = (value, what = 'scalar') => decodeScalar(hexBytes(value, what));
export const hxPoint = (p) => toHex(encodePoint(p));
export const hxScalar = (s) => toHex(scalarToBytes(s));

// An object with exactly these keys: an extra key would let two JSON texts carry one ballot.
export function fields(value, keys, what) {
  const ok = value !== null && typeof value === 'object' && !Array.isArray(value) &&
    Object.keys(value).length === keys.length && keys.every((k) => Object.prototype.hasOwnProperty.call(value, k));
  if (!ok) throw new EncodingError(`${what}: an object with exactly ${[...keys].sort().join(', ')}`);
  return value;
}

export function items(value, what, length = null) {
  if (!Array.isArray(value) || (length !== null && value.length !== length)) {
    throw new EncodingError(`${what}: a list` + (length !== null ? ` of ${length}` : ''));
  }
  return value;
}

// Canonical JSON. JSON.stringify escapes strings exactly as Python's json.dumps(ensure_ascii=False) does
// (", \, \b \f \n \r \t, other controls as lowercase \u00xx; nothing else), so only the structure is ours:
// keys sorted, no spaces. Refused rather than silently different from Python: non-ASCII keys (Python sorts by
// code point, RFC 8785 by UTF-16 unit), lone surrogates (Python cannot encode them in UTF-8), non-integers.
export function canonicalJsonText(value) {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new EncodingError('canonical JSON: integers only');
    return JSON.stringify(value);
  }
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) throw new EncodingError('canonical JSON: a lone surrogate');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJsonText).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.some((k) => !/^[\x00-\x7f]*$/.test(k))) throw new EncodingError('canonical JSON: ASCII keys only');
    keys.sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJsonText(value[k])}`).join(',')}}`;
  }
  throw new EncodingError(`canonical JSON: cannot encode ${typeof value}`);
}

export const canonicalJson = (value) => utf8.encode(canonicalJsonText(value));
