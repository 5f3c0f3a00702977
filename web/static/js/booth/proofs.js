// Zero-knowledge proofs by STRONG Fiat–Shamir, docs/ballot-encryption.md §2 and §6
// (engine/voting/encryption/proofs.py): each challenge hashes a context, the whole statement and the commitments.
// A proof is a list of {c, s} pairs with s = w − x·c, so a commitment is G·s + X·c.
import { BASE, baseMul, mod, mulPublic, mulSecret, randomScalar, small } from './group.js';
import { hashToScalar } from './hashing.js';

const sum = (scalars) => scalars.reduce((a, b) => mod(a + b), 0n);

// Schnorr proof of knowledge of x with X = G·x; with the message in the context it is the ballot's signature
// (§6, kind "signature": c = H(φ, digest, C, A), A = G·s + C·c).
export function schnorrProve(kind, context, x, rng = randomScalar) {
  const w = rng();
  const c = hashToScalar(kind, ...context, baseMul(x), baseMul(w));
  return { c, s: mod(w - x * c) };
}

export function schnorrVerify(kind, context, key, { c, s }) {
  const commitment = mulPublic(BASE, s).add(mulPublic(key, c));
  return hashToScalar(kind, ...context, key, commitment) === c;
}

// The commitments of branch v of a disjunctive proof that (α, β) encrypts v under y:
// A_v = G·s_v + α·c_v, B_v = y·s_v + (β − G·v)·c_v (§6). All public values.
function commitments(key, ct, v, { c, s }) {
  return [
    mulPublic(BASE, s).add(mulPublic(ct.alpha, c)),
    mulPublic(key, s).add(mulPublic(ct.beta.subtract(small(v)), c)),
  ];
}

// §6 Disjunctive Chaum–Pedersen (Cramer–Damgård–Schoenmakers OR): simulate every branch but the true one
// (value m, randomness r), then answer it with the challenge left. The order of rng() calls is Python's —
// w first, then (c, s) of each simulated branch in order — so a seeded source gives the same bytes.
export function disjunctiveProve(kind, context, key, ct, values, m, r, rng = randomScalar) {
  const real = values.indexOf(m);
  if (real < 0) throw new Error('the plaintext is not among the values this proof allows');
  const simulated = new Map();
  const points = [];
  const w = rng();
  values.forEach((v, i) => {
    if (i === real) {
      points.push(baseMul(w), mulSecret(key, w));
    } else {
      const branch = { c: rng(), s: rng() };
      simulated.set(i, branch);
      points.push(...commitments(key, ct, v, branch));
    }
  });
  const c = hashToScalar(kind, ...context, ct.alpha, ct.beta, ...points);
  const cReal = mod(c - sum([...simulated.values()].map((b) => b.c)));
  return values.map((_, i) => (i === real ? { c: cReal, s: mod(w - r * cReal) } : simulated.get(i)));
}

export function disjunctiveVerify(kind, context, key, ct, values, proof) {
  if (proof.length !== values.length) return false;
  const points = values.flatMap((v, i) => commitments(key, ct, v, proof[i]));
  return hashToScalar(kind, ...context, ct.alpha, ct.beta, ...points) === sum(proof.map((b) => b.c));
}
