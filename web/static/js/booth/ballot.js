// The voter's part of yishi-e2e/1 (docs/ballot-encryption.md §3, §5, §6; engine/voting/encryption/ballots.py):
// the election descriptor and its fingerprint φ, encrypting a choice with its proofs and the credential's
// signature, the tracker, the Benaloh audit, and checking a ballot (e.g. the server's echo of the one sent).
//
//   const election = electionFromJson(descriptor);                  // as the server publishes it
//   const { ballot, randomness } = encryptBallot(election, credentialSecret, 'gym');
//   tracker(ballot)                                                 // shown to the voter before casting
//   auditBallot(election, ballot, randomness) === 'gym'             // Benaloh: then discard, re-encrypt
//   verifyBallot(election, echoed); tracker(echoed) === tracker(ballot)
import { BASE, GROUP, IDENTITY, baseMul, decodeScalar, mod, mulPublic, mulSecret, randomScalar, small, EncodingError } from './group.js';
import { PROTOCOL, sha256 } from './hashing.js';
import { canonicalJson, fields, hexBytes, hxPoint, hxScalar, items, point, scalar, toHex } from './encoding.js';
import { disjunctiveProve, disjunctiveVerify, schnorrProve, schnorrVerify } from './proofs.js';

export const BALLOT_FORMAT = 'yishi-ballot/1';
export const ENCRYPTED_METHODS = ['yes_no_abstain', 'plurality', 'approval'];
const ZERO_ONE = [0, 1];
const ABSTAIN = 'abstain';
const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

export class BallotRefused extends Error {}
export { EncodingError };

// §3 The election descriptor (exactly these keys) and φ = SHA-256(canonical JSON of it).
const ELECTION_KEYS = ['protocol', 'group', 'vote', 'public_key', 'method', 'slots', 'min', 'max', 'threshold', 'trustees'];

export function electionFromJson(value) {
  // `disqualified` (§3, §4.3) is there only when the key generation disqualified someone.
  const withDisqualified = value !== null && typeof value === 'object' && Object.hasOwn(value, 'disqualified');
  fields(value, withDisqualified ? [...ELECTION_KEYS, 'disqualified'] : ELECTION_KEYS, 'election');
  if (value.protocol !== PROTOCOL || value.group !== GROUP) {
    throw new EncodingError(`election: protocol ${PROTOCOL} on ${GROUP} only`);
  }
  const e = {
    vote: value.vote, key: point(value.public_key, 'public_key'), method: value.method,
    slots: [...items(value.slots, 'slots')], min: value.min, max: value.max, threshold: value.threshold,
    trustees: items(value.trustees, 'trustees').map((t) => point(t, 'trustee')),
    disqualified: withDisqualified ? [...items(value.disqualified, 'disqualified')] : [],
  };
  const n = e.trustees.length + e.disqualified.length;
  if ((withDisqualified && !e.disqualified.length)
      || e.disqualified.some((j, i) => !Number.isSafeInteger(j) || j < 1 || j > n || (i > 0 && j <= e.disqualified[i - 1]))) {
    throw new EncodingError('election: disqualified trustees are distinct numbers from 1..n, in order');
  }
  if (typeof e.vote !== 'string' || !e.vote) throw new EncodingError('election: a vote id');
  if (!ENCRYPTED_METHODS.includes(e.method)) throw new EncodingError(`election: method one of ${ENCRYPTED_METHODS.join(', ')}`);
  if (!e.slots.length || e.slots.some((s) => typeof s !== 'string' || !s) || new Set(e.slots).size !== e.slots.length) {
    throw new EncodingError('election: distinct non-empty slot names');
  }
  if (![e.min, e.max, e.threshold].every(Number.isSafeInteger)) {
    throw new EncodingError('election: min, max and threshold are integers');
  }
  if (e.slots[e.slots.length - 1] !== ABSTAIN) throw new EncodingError(`election: the last slot is '${ABSTAIN}'`);
  if (e.method === 'approval' && !(1 <= e.min && e.min <= e.max && e.max <= e.slots.length - 1)) {
    throw new EncodingError('election: an approval ballot approves 1 ≤ min ≤ max ≤ number of options');
  }
  if (e.method !== 'approval' && (e.min !== 1 || e.max !== 1)) {
    throw new EncodingError('election: a single-choice ballot marks exactly one slot (min = max = 1)');
  }
  if (!(1 <= e.threshold && e.threshold <= e.trustees.length)) {
    throw new EncodingError('election: 1 ≤ threshold ≤ number of trustees');
  }
  e.fingerprint = sha256(canonicalJson(descriptor(e)));
  return Object.freeze(e);
}

export function descriptor(e) {
  return {
    protocol: PROTOCOL, group: GROUP, vote: e.vote, public_key: hxPoint(e.key), method: e.method,
    slots: [...e.slots], min: e.min, max: e.max, threshold: e.threshold, trustees: e.trustees.map(hxPoint),
    ...(e.disqualified?.length ? { disqualified: [...e.disqualified] } : {}),
  };
}

// §3 The 0/1 value of each slot for a choice: a slot name, or for approval a list of distinct options, the empty
// list abstaining (its `abstain` slot is then 1).
export function valuesFor(e, choice) {
  if (e.method === 'approval') {
    const options = e.slots.slice(0, -1);
    if (!Array.isArray(choice) || choice.some((c) => !options.includes(c)) || new Set(choice).size !== choice.length) {
      throw new RangeError('an approval choice is a list of distinct options');
    }
    if (choice.length && (choice.length < e.min || choice.length > e.max)) {
      throw new RangeError(`approve between ${e.min} and ${e.max} options, or none to abstain`);
    }
    return [...options.map((s) => (choice.includes(s) ? 1 : 0)), choice.length ? 0 : 1];
  }
  if (!e.slots.includes(choice)) throw new RangeError(`one of ${e.slots.join(', ')}`);
  return e.slots.map((s) => (s === choice ? 1 : 0));
}

export function choiceFrom(e, values) {
  const chosen = e.slots.filter((_, i) => values[i]);
  if (e.method === 'approval') return chosen.filter((s) => s !== ABSTAIN);
  return chosen.length === 1 ? chosen[0] : null;
}

// §6 What each slot weighs in the overall proof's sum: 1 each, but an approval ballot's `abstain` weighs max, so
// the sum is in [min..max] exactly when the ballot abstains with no option or approves min..max options.
export function coefficients(e) {
  return e.slots.map((s, i) => (e.method === 'approval' && i === e.slots.length - 1 ? e.max : 1));
}

// §6 Contexts of the challenges: (φ, C) for each slot's 0/1 proof; (φ, C, α_1, β_1, …, α_T, β_T) for the
// overall range proof; (φ, SHA-256(canonical JSON of the ballot without "signature")) for the signature.
const context = (e, credential) => [e.fingerprint, credential];
const overallContext = (e, credential, cts) => [...context(e, credential), ...cts.flatMap((c) => [c.alpha, c.beta])];
// The ciphertext of Σ coefficient·m: what the overall proof is about (public values, so mulPublic).
const times = (c, w) => (w === 1 ? c : { alpha: mulPublic(c.alpha, BigInt(w)), beta: mulPublic(c.beta, BigInt(w)) });
const combined = (e, cts) => coefficients(e).map((w, i) => times(cts[i], w))
  .reduce((a, c) => ({ alpha: a.alpha.add(c.alpha), beta: a.beta.add(c.beta) }), { alpha: IDENTITY, beta: IDENTITY });
const overallMessage = (e) => (e.method === 'approval'
  ? `the proof that the ballot approves ${e.min} to ${e.max} options or abstains fails`
  : `the proof that the ballot marks ${e.min} to ${e.max} slots fails`);
const signedDigest = (unsigned) => sha256(canonicalJson(unsigned));
const responseJson = ({ c, s }) => ({ c: hxScalar(c), s: hxScalar(s) });

// §6 Encrypt a choice: per slot (α, β) = (G·r, y·r + G·m) with fresh r ≠ 0, its 0/1 proof, the overall proof
// Σm ∈ [min..max], then the credential's Schnorr signature. Returns the ballot's JSON and the randomness
// (hex, for a Benaloh audit only: whoever keeps it can open the ballot; forget it once the ballot is cast).
// `rng` is crypto.getRandomValues-based unless a caller passes another source explicitly (the vectors test does).
export function encryptBallot(e, credentialSecret, choice, { rng = randomScalar } = {}) {
  const values = valuesFor(e, choice);
  const secret = mod(credentialSecret);
  if (secret === 0n) throw new RangeError('a credential secret is not zero (§1: its key would be the identity)');
  const credential = baseMul(secret);
  const randomness = values.map(() => rng());
  const cts = values.map((m, i) => ({ alpha: baseMul(randomness[i]), beta: mulSecret(e.key, randomness[i]).add(small(m)) }));
  const ctx = context(e, credential);
  const proofs = cts.map((ct, i) => disjunctiveProve('zero-one', ctx, e.key, ct, ZERO_ONE, values[i], randomness[i], rng));
  const weights = coefficients(e);
  const rSum = randomness.reduce((a, r, i) => mod(a + r * BigInt(weights[i])), 0n);
  const overall = disjunctiveProve('range', overallContext(e, credential, cts), e.key, combined(e, cts),
    range(e.min, e.max), values.reduce((a, m, i) => a + m * weights[i], 0), rSum, rng);
  const unsigned = {
    format: BALLOT_FORMAT, vote: e.vote, election: toHex(e.fingerprint), credential: hxPoint(credential),
    ciphertexts: cts.map((c) => ({ alpha: hxPoint(c.alpha), beta: hxPoint(c.beta) })),
    proofs: proofs.map((p) => p.map(responseJson)),
    overall_proof: overall.map(responseJson),
  };
  const signature = schnorrProve('signature', [e.fingerprint, signedDigest(unsigned)], secret, rng);
  return { ballot: { ...unsigned, signature: responseJson(signature) }, randomness: randomness.map(hxScalar) };
}

// §6 Strict decoding, as Ballot.from_json: exactly the known keys, every point valid and not the identity,
// every scalar canonical, two responses per 0/1 proof.
const BALLOT_KEYS = ['format', 'vote', 'election', 'credential', 'ciphertexts', 'proofs', 'overall_proof', 'signature'];
const response = (value, what) => {
  fields(value, ['c', 's'], what);
  return { c: scalar(value.c, 'c'), s: scalar(value.s, 's') };
};
const responses = (value, length, what) => items(value, what, length).map((r) => response(r, what));

export function parseBallot(value) {
  fields(value, BALLOT_KEYS, 'ballot');
  if (value.format !== BALLOT_FORMAT) throw new EncodingError(`ballot: format ${BALLOT_FORMAT}`);
  if (typeof value.vote !== 'string') throw new EncodingError('ballot: a vote id');
  const ciphertexts = items(value.ciphertexts, 'ciphertexts').map((c) => {
    fields(c, ['alpha', 'beta'], 'ciphertext');
    return { alpha: point(c.alpha, 'alpha'), beta: point(c.beta, 'beta') };
  });
  return {
    vote: value.vote, election: hexBytes(value.election, 'election'), credential: point(value.credential, 'credential'),
    ciphertexts,
    proofs: items(value.proofs, 'proofs', ciphertexts.length).map((p) => responses(p, ZERO_ONE.length, 'proofs[]')),
    overallProof: responses(value.overall_proof, null, 'overall_proof'),
    signature: response(value.signature, 'signature'),
  };
}

// §6, §9 Every check a ballot gets: φ and vote, one ciphertext per slot, each 0/1 proof, the overall proof, the
// signature. Throws EncodingError (malformed) or BallotRefused (which check failed); returns the parsed ballot.
export function verifyBallot(e, value) {
  const b = parseBallot(value);
  if (b.vote !== e.vote || toHex(b.election) !== toHex(e.fingerprint)) {
    throw new BallotRefused('the ballot was made for another vote or another election key');
  }
  if (b.ciphertexts.length !== e.slots.length) {
    throw new BallotRefused(`${b.ciphertexts.length} ciphertexts for ${e.slots.length} slots`);
  }
  const ctx = context(e, b.credential);
  b.ciphertexts.forEach((ct, i) => {
    if (!disjunctiveVerify('zero-one', ctx, e.key, ct, ZERO_ONE, b.proofs[i])) {
      throw new BallotRefused(`the proof that '${e.slots[i]}' is 0 or 1 fails`);
    }
  });
  if (!disjunctiveVerify('range', overallContext(e, b.credential, b.ciphertexts), e.key, combined(e, b.ciphertexts),
    range(e.min, e.max), b.overallProof)) {
    throw new BallotRefused(overallMessage(e));
  }
  const { signature, ...unsigned } = value;
  if (!schnorrVerify('signature', [e.fingerprint, signedDigest(unsigned)], b.credential, b.signature)) {
    throw new BallotRefused("the credential's signature fails");
  }
  return b;
}

// §6 The tracker: SHA-256 of the canonical JSON of the whole ballot, hex.
export const tracker = (ballot) => toHex(sha256(canonicalJson(ballot)));

// The voter's device checks the server's echo of the ballot it sent: a valid ballot, and the same one.
export function checkEcho(e, sent, echoed) {
  verifyBallot(e, echoed);
  if (tracker(echoed) !== tracker(sent)) throw new BallotRefused('the server echoed another ballot');
  return tracker(echoed);
}

// §6 Cast or audit (Benaloh): with the revealed randomness, the choice the ballot encrypts — α_t = G·r_t and
// β_t − y·r_t ∈ {identity, G}. An audited ballot must never be cast: the booth re-encrypts.
export function auditBallot(e, ballot, randomness) {
  const b = verifyBallot(e, ballot);
  if (!Array.isArray(randomness) || randomness.length !== b.ciphertexts.length) {
    throw new BallotRefused('one randomness per ciphertext');
  }
  const values = b.ciphertexts.map((ct, i) => {
    const r = typeof randomness[i] === 'bigint' ? randomness[i] : decodeScalar(hexBytes(randomness[i], 'randomness'));
    if (!mulPublic(BASE, r).equals(ct.alpha)) return null;
    const gm = ct.beta.subtract(mulPublic(e.key, r));
    return [0, 1].find((m) => small(m).equals(gm)) ?? null;
  });
  if (values.includes(null)) throw new BallotRefused('the randomness does not open the ballot');
  return choiceFrom(e, values);
}

export const auditToJson = (ballot, randomness) => ({ ballot, randomness: [...randomness] });
