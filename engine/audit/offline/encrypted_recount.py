"""An audit bundle's encrypted votes (``verify``'s **recount** check where the ballots were encrypted).

A decided encrypted vote's board travels in the bundle as ``GET /api/votes/{id}/encrypted-board`` publishes it. The
history binds it as it binds a plaintext board: the vote record, bound by the events that wrote it, holds the Merkle
root over the board's ballots (made at the close) and the published result, and says how the vote is counted. So the
board must carry the record's root, result, counting rules and electorate, and its election must be this vote's;
then ``encrypted_board.verify`` checks every proof, recomputes the tally, checks every decryption factor and recounts
(docs/ballot-encryption.md §9). Everything else on the board — the election key, the trustees' keys, the tally, the
factors — is bound by those proofs to the ballots, and through them to the root. A vote whose trustees are still
decrypting has no board yet: the verdict says so, and it is no failure.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from engine.audit.offline import encrypted_board
from engine.voting.counting import board as plain_board
from engine.voting.counting.board import electorate_summary, tally_config
from engine.voting.encryption import ballots as eballots

if TYPE_CHECKING:
    from engine.audit.offline.verify import Check

ENCRYPTED = "encrypted"


def check(verify: Check) -> None:
    """Every encrypted vote of the bundle, and every encrypted board in it."""
    votes = {r["id"]: r["public"] for r in verify.bundle["records"]
             if r["kind"] == "vote" and r["public"].get("secrecy") == ENCRYPTED}
    boards = {b["vote_id"]: b["board"] for b in verify.bundle.get("encrypted_boards", [])}
    boxes = {b["vote_id"]: b for b in verify.bundle.get("ballot_boxes", [])}
    for vote_id in sorted(votes.keys() | boards.keys()):
        EncryptedRecount(verify, vote_id, votes.get(vote_id), boards.get(vote_id), boxes.get(vote_id)).run()


class EncryptedRecount:
    """One encrypted vote: its board bound to its record, then verified as ``yishi tally --verify`` does."""

    def __init__(self, verify: Check, vote_id: str, vote: dict[str, Any] | None, board: dict[str, Any] | None,
                 box: dict[str, Any] | None) -> None:
        self.verify, self.vote_id, self.vote, self.board, self.box = verify, vote_id, vote, board, box
        self.name = f"vote {vote_id}"
        instance = vote["instance_id"] if vote else None
        instance, seq, _ = verify.latest_bindings.get(("vote", vote_id), (instance, None, None))
        self.where: dict[str, Any] = {"instance": instance, "seq": seq, "record": self.name}
        self.closed_by = f"{self.name}, closed by event {seq} of instance {instance}"

    def problem(self, message: str) -> None:
        self.verify.problem("recount", f"{self.closed_by}: {message}", **self.where)

    def run(self) -> None:
        if self.vote is None:
            self.verify.problem("recount", f"{self.name}: the bundle has its encrypted board but not its record", record=self.name)
            return
        status = self.vote["status"]
        if status == "decrypting" and self.board is None:
            self.verify.count("encrypted votes still decrypting")
            self.verify.note(f"{self.name} (instance {self.where['instance']}): its trustees are still decrypting the "
                             "tally: its board is published, and recounted, once they have")
        elif status != "closed":
            if self.board is not None:
                self.verify.problem("recount", f"{self.name}: the bundle has an encrypted board for it, yet its record "
                                               f"says it is {status}", **self.where)
        elif self.board is None:
            self.problem("the bundle has no encrypted board for it")
        else:
            self.verify.count("encrypted recounts")
            self._recount(self.board)

    def _recount(self, board: dict[str, Any]) -> None:
        record = SimpleNamespace(**self.vote)
        bound = {"root": self.vote["board_root"], "result": self.vote["result"], "vote": tally_config(record),
                 "electorate": electorate_summary(record), "weighted": self.vote["weighted"]}
        for field, value in bound.items():
            if board.get(field) != value:
                self.problem(f"the board's {field} is not the one the history bound")
        if board.get("election") is None:
            self._never_keyed(board)
            return
        if not self._election_of_this_vote(board["election"]):
            return
        verdict = encrypted_board.verify({**board, **bound})  # verified against what the history bound
        for problem in verdict.problems:
            self.problem(problem)
        self._ballot_box(board)

    def _never_keyed(self, board: dict[str, Any]) -> None:
        """Closed before the trustees made the key: nobody could vote, so the board holds no ballot."""
        if board.get("ballots") or self.vote["board_root"] != plain_board.merkle_root([]):
            self.problem("the board has no election key, yet it lists ballots")

    def _election_of_this_vote(self, descriptor: Any) -> bool:
        """The election is this vote's: its id, method and slots, and (a full bundle) the fingerprint the history
        recorded when the key was made. A board with another vote's election would verify on its own."""
        try:
            election = eballots.Election.from_json(descriptor)
        except (KeyError, TypeError, ValueError) as exc:
            self.problem(f"its election cannot be read: {exc}")
            return False
        options = [option["id"] for option in self.vote.get("options", [])]
        if (election.vote, election.method) != (self.vote_id, self.vote["method"]) or \
                list(election.slots) != list(eballots.slots_for(self.vote["method"], options)):
            self.problem(f"the board's election is for vote {election.vote} ({election.method}: "
                         f"{', '.join(election.slots)}), not this one")
            return False
        for seq, recorded in self._keys_made():
            if recorded != election.fingerprint.hex():
                self.verify.problem("recount", f"{self.closed_by}: event {seq} made the election key with fingerprint "
                                               f"{str(recorded)[:12]}…; the board's election has another",
                                    **{**self.where, "seq": seq})
                return False
        return True

    def _keys_made(self) -> list[tuple[int, Any]]:
        """The fingerprints the history recorded (``election_key_made``); a public bundle withholds the inputs."""
        instance = self.verify.instances.get(self.where["instance"] or "", {})
        return [(e["seq"], e["input"].get("fingerprint")) for e in instance.get("events", [])
                if e["type"] == "election_key_made" and "input" in e and e["input"].get("vote_id") == self.vote_id]

    def _ballot_box(self, board: dict[str, Any]) -> None:
        """The board lists the ballots the box holds: as many counted, the same ones replaced."""
        if self.box is None:
            return
        counted = sum(1 for entry in board["ballots"] if not entry["replaced"])
        replaced = sorted(entry["tracker"] for entry in board["ballots"] if entry["replaced"])
        if counted != self.box["ballots"]:
            self.problem(f"the board counts {counted} ballots, the ballot box holds {self.box['ballots']}")
        if replaced != self.box["replaced"]:
            self.problem("the board's replaced ballots are not the ones the ballot box marks replaced")
