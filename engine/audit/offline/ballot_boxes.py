"""One vote's ballot box against its history: counts, participations and the frozen electorate (``verify``'s
**ballots** check)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.voting.counting.electorate import roll_digest

if TYPE_CHECKING:
    from engine.audit.offline.verify import Check

FIRST_BALLOTS = ("ballot_cast", "paper_ballot_entered")
CHANGED_BALLOTS = ("ballot_changed", "paper_ballot_corrected")


class BallotBox:
    """One vote's ballot box against its history (``Check.ballot_boxes``)."""

    def __init__(self, check: Check, box: dict[str, Any], vote: dict[str, Any] | None, published: dict[str, Any] | None) -> None:
        self.check_, self.box, self.vote, self.published = check, box, vote, published
        self.name = f"vote {box['vote_id']}"
        self.where: dict[str, Any] = {"instance": box["instance_id"], "record": self.name}
        events = check.instances.get(box["instance_id"], {}).get("events", [])
        self.full = not check.bundle.get("public")
        self.events = [e for e in events if e["type"] in FIRST_BALLOTS + CHANGED_BALLOTS
                       and self.full and (e.get("input") or {}).get("vote_id") == box["vote_id"]]

    def problem(self, message: str, **where: Any) -> None:
        self.check_.problem("ballots", f"{self.name}: {message}", **{**self.where, **where})

    def check(self) -> None:
        box = self.box
        if self.vote is None:
            self.problem("the bundle has its ballot box but not its record")
            return
        if box["ballots"] != box["turnout"]:
            self.problem(f"{box['ballots']} ballots are stored for the {box['turnout']} voters who took part")
        if self.vote.get("electorate_digest") is not None and len(box["replaced"]) != box["changes"]:
            self.problem(f"{len(box['replaced'])} ballots were replaced, but the participations count {box['changes']} changes")
        if self.published is not None:
            on_board = {entry["fingerprint"] for entry in self.published["ballots"]}
            if len(self.published["ballots"]) != box["ballots"]:
                self.problem(f"the board lists {len(self.published['ballots'])} ballots, the ballot box holds {box['ballots']}")
            if on_board & set(box["replaced"]):
                self.problem("a ballot replaced by a later one is still on the board")
        if self.full:
            self._counts()
            self._participations()
            self._electorate()

    def _counts(self) -> None:
        for kinds, what, stored in ((FIRST_BALLOTS, "first ballots", "turnout"), (CHANGED_BALLOTS, "changed ballots", "changes")):
            recorded = [e for e in self.events if e["type"] in kinds]
            if len(recorded) != self.box[stored]:
                self.problem(f"the history records {len(recorded)} {what}, the rows count {self.box[stored]}",
                             seq=recorded[-1]["seq"] if recorded else None)

    def _participations(self) -> None:
        """Each participation was written by its voter's first ballot event, and changed as often as the history says."""
        by_voter: dict[int, list[dict[str, Any]]] = {}
        for event in self.events:
            voter = event["input"].get("voter_id", event["actor_id"])
            by_voter.setdefault(voter, []).append(event)
        for p in self.box.get("participations", []):
            events = by_voter.pop(p["member_id"], [])
            first = [e for e in events if e["type"] in FIRST_BALLOTS]
            changed = [e for e in events if e["type"] in CHANGED_BALLOTS]
            who = f"the participation of {p['voter_key']}"
            if len(first) != 1:
                self.problem(f"{who} matches {len(first)} first-ballot events of its voter, not one")
            elif first[0]["at"] != p["cast_at"] or (first[0]["type"] == "paper_ballot_entered") != (p["channel"] == "paper"):
                self.problem(f"{who} says it was cast {p['channel']} at {p['cast_at']}; event {first[0]['seq']} says otherwise",
                             seq=first[0]["seq"])
            elif len(changed) != p["changes"]:
                self.problem(f"{who} counts {p['changes']} changes; the history records {len(changed)}",
                             seq=changed[-1]["seq"] if changed else first[0]["seq"])
        for voter, events in sorted(by_voter.items(), key=lambda item: str(item[0])):
            self.problem(f"event {events[0]['seq']} records a ballot of member {voter}, who has no participation", seq=events[0]["seq"])

    def _electorate(self) -> None:
        entries = self.box.get("electorate")
        digest = self.vote.get("electorate_digest") if self.vote else None
        if entries is None or digest is None:
            return  # a vote opened before its electorate was bound: its counts were checked above
        keys = {e["voter_key"] for e in entries}
        strangers = sorted(p["voter_key"] for p in self.box.get("participations", []) if p["voter_key"] not in keys)
        if strangers:
            self.problem(f"{len(strangers)} participations are not in the frozen electorate (first: {strangers[0]})")
        if roll_digest(entries) != digest:
            self.problem("its frozen electorate was changed after the vote opened: it no longer gives the digest its record was bound with")
