"""Encrypted ballots in Python (docs/ballot-encryption.md): what encrypting, checking and tallying cost.

Prints, per operation, the time per ballot, and an extrapolation to 100,000 yes/no/abstain ballots on this
machine: every ballot checked (decoded from JSON, every proof verified) on all cores, the homomorphic tally,
the trustees' decryption with proofs, their verification and the discrete logs. A benchmark, not a test.

    python -m bench.encryption [--ballots 1000] [--processes 2] [--weighted]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from multiprocessing import Pool

from engine.voting.encryption import trustees as T
from engine.voting.encryption.ballots import Ballot, Election, encrypt_ballot, make_election, verify_ballot
from engine.voting.encryption.group import base_mul, random_scalar
from engine.voting.encryption.tally import decrypt_tally, discrete_log, homomorphic_tally
from engine.voting.encryption.group import small

TARGET = 100_000


def trustees(vote: str, k: int, n: int):
    dealt = [T.deal(vote, i, k, n) for i in range(1, n + 1)]
    dealings = [d for _, d, _ in dealt]
    secrets, shares = {}, []
    for j in range(1, n + 1):
        secrets[j], share = T.key_share(vote, j, [s[j] for _, _, s in dealt])
        shares.append(share)
    return dealings, secrets, shares, T.election_key(dealings)


def timed(action, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        action()
    return (time.perf_counter() - start) / repeat


_ELECTION: Election | None = None


def _init(descriptor):
    global _ELECTION
    _ELECTION = Election.from_json(descriptor)


def _check(texts: list[str]) -> int:
    for text in texts:
        verify_ballot(_ELECTION, Ballot.from_json(json.loads(text)))
    return len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ballots", type=int, default=1000, help="yes/no/abstain ballots to tally (default 1000)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="processes checking ballots")
    parser.add_argument("--weighted", action="store_true", help="weigh ballots by floor areas (0.01 m² units)")
    args = parser.parse_args()
    n = args.ballots
    point = base_mul(random_scalar())
    mul = timed(lambda: point * random_scalar(), 2000)
    print(f"calibration: one variable-base multiplication takes {mul * 1e6:.0f} µs now (37 µs on a quiet machine)")
    print(f"cores: {os.cpu_count()}, checking on {args.processes} processes, {n} ballots"
          f"{' weighted by area' if args.weighted else ''}")

    vote = "bench-vote"
    dealings, secrets, shares, key = trustees(vote, 2, 3)
    keys = [s.key for s in shares]
    five = make_election(vote, key, "plurality", ["a", "b", "c", "d", "e"], 2, keys)
    approval = make_election(vote, key, "approval", ["a", "b", "c", "d", "e"], 2, keys)
    yna = make_election(vote, key, "yes_no_abstain", [], 2, keys)
    cred = random_scalar()

    for label, election, choice in [("plurality, 5 options (6 slots)", five, "c"),
                                     ("approval, 5 options (6 slots)", approval, ["a", "d"]),
                                     ("yes/no/abstain", yna, "no")]:
        enc = timed(lambda: encrypt_ballot(election, cred, choice), 20)
        ballot = encrypt_ballot(election, cred, choice)[0]
        text = json.dumps(ballot.to_json())
        ver = timed(lambda: verify_ballot(election, Ballot.from_json(json.loads(text))), 20)
        print(f"{label:34} encrypt+prove {enc * 1e3:7.2f} ms   decode+verify {ver * 1e3:7.2f} ms   "
              f"{len(text):5} bytes")

    choices = ["yes", "no", "abstain"]
    weights = [8635 + (i % 50) * 137 for i in range(n)] if args.weighted else [1] * n
    start = time.perf_counter()
    ballots = [encrypt_ballot(yna, random_scalar(), choices[i % 3])[0] for i in range(n)]
    made = time.perf_counter() - start
    texts = [json.dumps(b.to_json()) for b in ballots]

    start = time.perf_counter()
    chunks = [texts[i::args.processes * 8] for i in range(args.processes * 8)]
    with Pool(args.processes, initializer=_init, initargs=(yna.descriptor(),)) as pool:
        assert sum(pool.map(_check, chunks)) == n
    checked = time.perf_counter() - start

    start = time.perf_counter()
    sums = homomorphic_tally(yna, list(zip(ballots, weights)))
    tallied = time.perf_counter() - start

    start = time.perf_counter()
    partials = [T.decrypt_partially(yna.fingerprint, j, secrets[j], sums) for j in (1, 3)]
    decrypted = time.perf_counter() - start

    bound = sum(weights)
    start = time.perf_counter()
    result = decrypt_tally(yna, sums, shares, partials, bound)
    combined = time.perf_counter() - start
    expected = [sum(w for i, w in enumerate(weights) if choices[i % 3] == c) for c in yna.slots]
    assert result.counts == expected, (result.counts, expected)

    print(f"\n{n} yes/no/abstain ballots, trustees 2 of 3:")
    print(f"  encrypt (one process, for the test)  {made:8.2f} s   {made / n * 1e3:6.2f} ms/ballot")
    print(f"  decode + verify, {args.processes} processes          {checked:8.2f} s   {checked / n * 1e3:6.2f} ms/ballot")
    print(f"  homomorphic tally                    {tallied:8.2f} s   {tallied / n * 1e3:6.3f} ms/ballot")
    print(f"  trustees' factors + proofs (2)       {decrypted:8.3f} s")
    print(f"  verify factors, combine, BSGS        {combined:8.3f} s   (bound {bound:,})")

    target_bound = TARGET * (max(weights) if args.weighted else 1)
    bsgs = timed(lambda: discrete_log(small(target_bound - 1), target_bound))
    per_ballot = checked / n + tallied / n
    total = per_ballot * TARGET + decrypted + combined + bsgs * len(yna.slots)
    print(f"\nextrapolated to {TARGET:,} ballots on this machine: verify {checked / n * TARGET:6.1f} s + tally "
          f"{tallied / n * TARGET:5.1f} s + trustees {decrypted + combined:4.1f} s + BSGS (bound {target_bound:,}) "
          f"{bsgs * len(yna.slots):4.1f} s = {total:6.1f} s (target < 120 s)")
    print(f"  the same at a quiet machine's speed (scaled by the calibration): {total * 37e-6 / mul:6.1f} s")


if __name__ == "__main__":
    main()
