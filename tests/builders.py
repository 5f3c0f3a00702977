"""Scenarios several test modules build: a vote opened and closed by its deadline, a whole consultation,
a convention drafted and voted on, a quality series driven through its cycles, a migration run by hand,
the metrics scraped.

Plain functions and classes, no fixtures and no tests: a test module imports its builders from here,
never from another test module.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from alembic import command
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from engine.bootstrap import Engine
from engine.consultation.commands import AnswerOpinion, EditOpinion, SubmitOpinion, WithdrawOpinion
from engine.conventions.commands import DecideAmendment, ProposeAmendment
from engine.conventions.models import Amendment, ConventionVersion
from engine.identity import actors
from engine.identity import members
from engine.identity import models as identity_models
from engine.identity.actors import Actor
from engine.identity.commands import AddMember, IssueToken
from engine.kernel.clock import ManualClock
from engine.kernel.commands import CompleteTask, StartInstance
from engine.kernel.db import alembic_config
from engine.kernel.models import Event, Instance
from engine.kernel.replay import replay
from engine.kernel.unit_of_work import UnitOfWork
from engine.pdca.commands import AddMeasurements, AddServiceRecords, AssignCorrectiveAction, RateService, ReportCorrectiveAction, VerifyCorrectiveAction
from engine.pdca.models import CorrectiveAction
from engine.voting.commands import CastBallot
from engine.voting.models import Vote
from tests.helpers import Community


def ready(engine: Engine, instance_id: str) -> dict[str, str]:
    """The instance's READY tasks, by element id."""
    with engine.read() as session:
        return {t.element_id: t.id for t in session.get(Instance, instance_id).tasks if t.state == "READY"}


def add_member(engine: Engine, community: Community, name: str, roles: list[str], household: str | None = None,
               area: str | None = None) -> Actor:
    return actors.actor_for(engine.execute(AddMember(name, roles, household, area), community["admin"]))


def identity_token(engine: Engine, community: Community, member: Actor) -> str:
    return engine.execute(IssueToken(member.member_id, "test"), community["admin"])


# --- votes --------------------------------------------------------------------------------------

VOTE_CONFIG: dict[str, Any] = {
    "title": "Stairwell colour", "question": "Shall the stairwells be green?", "method": "yes_no_abstain",
    "rule": {}, "secret": True, "electorate": "residents", "deadline": "2026-03-09T18:00",
}
BALLOT_EVENTS = ("ballot_cast", "ballot_changed", "paper_ballot_entered", "paper_ballot_corrected")


def start_vote(engine: Engine, community: Community, key: str = "vote") -> str:
    return engine.execute(StartInstance(key), community["chair"]).id


def open_vote(engine: Engine, community: Community, key: str = "vote", **config: Any) -> tuple[str, str]:
    """Start a vote (or a process calling one), configure it as the chair; the instance and the vote's id."""
    instance_id = start_vote(engine, community, key)
    engine.execute(CompleteTask(ready(engine, instance_id)["configure_vote"], {"vote": {**VOTE_CONFIG, **config}}), community["chair"])
    with engine.read() as session:
        (vote_id,) = session.scalars(select(Vote.id).where(Vote.instance_id == instance_id))
    return instance_id, vote_id


def close_by_deadline(engine: Engine, clock: ManualClock, instance_id: str) -> None:
    """Move the clock past the instance's only timer and fire it."""
    with engine.read() as session:
        (timer,) = session.get(Instance, instance_id).timers
        clock.set(timer.due_at + timedelta(seconds=1))
    assert engine.fire_due_timers() == 1


def count(session: Session, model: Any, vote_id: str) -> int:
    return session.scalar(select(func.count()).select_from(model).where(model.vote_id == vote_id)) or 0


def events_of(session: Session, instance_id: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.seq)))


def ballot_events(session: Session, instance_id: str) -> list[Event]:
    return [e for e in events_of(session, instance_id) if e.type in BALLOT_EVENTS]


# --- consultations ------------------------------------------------------------------------------

TOPIC = {"title": "Bike shed", "description": "Where should it go?", "affected": "Buildings 2-4",
         "opinion_deadline": "2026-03-09T18:00"}


def consultation(engine: Engine, community: Community, clock: ManualClock, *, close_early: bool) -> str:
    """A whole consultation with opinions and answers, closed early by the chair or by its deadline."""
    chair, tick = community["chair"], lambda: clock.advance(timedelta(hours=5, minutes=3))
    instance_id = engine.execute(StartInstance("consultation"), chair).id
    tick()
    engine.execute(CompleteTask(ready(engine, instance_id)["draft_topic"], TOPIC), chair)
    tick()
    alice = engine.execute(SubmitOpinion(instance_id, "By the gate."), community["alice"])
    bob = engine.execute(SubmitOpinion(instance_id, "Behind building 3."), community["bob"])
    tick()
    engine.execute(EditOpinion(bob.id, "Behind building 3, with a roof."), community["bob"])
    carol = engine.execute(SubmitOpinion(instance_id, "No shed."), community["carol"])
    engine.execute(WithdrawOpinion(carol.id), community["carol"])
    if close_early:
        engine.execute(CompleteTask(ready(engine, instance_id)["opinion_period"], {"reason": "Enough heard."}), chair)
    else:
        clock.advance(timedelta(days=8))
        assert engine.fire_due_timers() == 1
    tick()
    engine.execute(CompleteTask(ready(engine, instance_id)["record_deliberation"], {
        "meeting_date": "2026-03-10", "attendees": ["chair", "clerk"], "minutes": "Discussed."}), community["clerk"])
    engine.execute(AnswerOpinion(alice.id, "adopted", "Convenient."), chair)
    engine.execute(AnswerOpinion(bob.id, "not_adopted", "No room."), chair)
    engine.execute(AnswerOpinion(bob.id, "partly_adopted", "A roof, by the gate."), chair)
    engine.execute(CompleteTask(ready(engine, instance_id)["answer_opinions"], {"note": "All answered."}), chair)
    tick()
    engine.execute(CompleteTask(ready(engine, instance_id)["publish_outcome"], {"summary": "A shed by the gate."}), chair)
    return instance_id


# --- conventions -------------------------------------------------------------------------------

CONVENTION_DEADLINE = "2026-03-09T18:00"
FIRST_DRAFT = [{"text": "晚上十点后不得大声喧哗。"}, {"text": "Keep the stairwells clear of bicycles."}, {"text": "宠物狗出门须拴绳。"}]


def convention_draft(articles: list[dict[str, str]] | None = FIRST_DRAFT, deadline: str = CONVENTION_DEADLINE,
                     **fields: Any) -> dict[str, Any]:
    body = {"title": "邻里公约", "reason": "The committee's draft.", "amendment_deadline": deadline, "notice_days": 3, **fields}
    if articles is not None:
        body["articles"] = articles
    return {"draft": body}


def complete_task(engine: Engine, community: Community, instance_id: str, element: str, data: dict[str, Any],
                  who: str = "chair") -> None:
    """Complete the READY task of ``element`` as ``who``."""
    engine.execute(CompleteTask(ready(engine, instance_id)[element], data), community[who])


def open_drafting(engine: Engine, community: Community, data: dict[str, Any] | None = None, **variables: Any) -> str:
    instance_id = engine.execute(StartInstance("convention", variables), community["chair"]).id
    complete_task(engine, community, instance_id, "draft_convention", data or convention_draft())
    return instance_id


def convention_of(engine: Engine, instance_id: str) -> int:
    with engine.read() as session:
        return session.get(Instance, instance_id).data["convention_id"]


def propose_amendment(engine: Engine, community: Community, convention_id: int, who: str, kind: str, article: str | None = None,
                      text: str | None = None, version: int = 1, after: str | None = None) -> Amendment:
    return engine.execute(ProposeAmendment(convention_id, version, kind, f"{who}'s reasons", article, after, text), community[who])


def review_amendments(engine: Engine, community: Community, instance_id: str, decisions: list[tuple[Amendment, str, str | None]]) -> None:
    """Close the amendment period early, decide each amendment, and finish the review."""
    complete_task(engine, community, instance_id, "amendment_period", {"reason": "Everyone has had their say."})
    for amendment, outcome, wording in decisions:
        engine.execute(DecideAmendment(amendment.id, outcome, f"Because {outcome}.", wording), community["chair"])
    complete_task(engine, community, instance_id, "review_amendments", {})


def vote_on_convention(engine: Engine, clock: ManualClock, community: Community, instance_id: str, choices: dict[str, str]) -> None:
    """Wait out the public notice, configure a yes/no vote, cast the ballots and close the vote early."""
    with engine.read() as session:
        (notice_ends,) = [timer.due_at for timer in session.get(Instance, instance_id).timers]
    clock.set(notice_ends + timedelta(minutes=1))
    assert engine.fire_due_timers() == 1
    deadline = (clock.now() + timedelta(days=3)).isoformat()
    complete_task(engine, community, instance_id, "configure_vote", {"vote": {
        "title": "Adopt the convention", "question": "Adopt the consolidated text?", "method": "yes_no_abstain",
        "rule": {}, "secret": True, "electorate": "residents", "deadline": deadline}})
    with engine.read() as session:
        vote_id = session.scalar(select(Vote.id).where(Vote.instance_id == instance_id, Vote.status == "open"))
    for who, choice in choices.items():
        engine.execute(CastBallot(vote_id, choice), community[who])
    complete_task(engine, community, instance_id, "voting", {"reason": "Everyone has voted."})


def convention_texts(engine: Engine, convention_id: int, number: int) -> list[dict[str, str]]:
    with engine.read() as session:
        return session.scalar(select(ConventionVersion.articles).where(
            ConventionVersion.convention_id == convention_id, ConventionVersion.number == number))


# --- service-quality series ---------------------------------------------------------------------

QUALITY_DMN = (Path(__file__).resolve().parent.parent / "processes" / "quality.dmn").read_bytes()
PDCA_RESIDENTS = ("alice", "bob", "carol", "chair")


def plan(provider_id: int, near_margin: float = 5, **overrides: Any) -> dict[str, Any]:
    satisfaction = {"key": "satisfaction", "name": "Resident satisfaction", "kind": "share", "source": "ratings",
                    "threshold": 4, "threshold_direction": "at_least", "unit": "%", "target": 85, "direction": "at_least",
                    "near_margin": near_margin}
    response = {"key": "response", "name": "Repair response time (P90)", "kind": "percentile", "source": "measurements",
                "metric": "response_hours", "percentile": 90, "unit": "h", "target": 24, "direction": "at_most"}
    return {"service": "Repairs", "provider_id": provider_id, "cycle_days": 30, "rating_days": 7,
            "indicators": [satisfaction, response], **overrides}


def pdca_staff(engine: Engine, community: Community) -> dict[str, Actor]:
    """The provider and the street office of a quality series, added to the community."""
    with UnitOfWork(engine.db, engine.clock) as uow:
        row = uow.session.get(identity_models.Community, community.id)
        made = {name: actors.actor_for(members.add_member(uow.session, row, name, [role], uow.now))
                for name, role in (("provider", "provider"), ("street", "street_office"))}
        uow.commit()
    return made


class Series:
    """Drives one pdca instance through the engine, closing periods early (the timers are the feature's business)."""

    def __init__(self, engine: Engine, community: Community, staff: dict[str, Actor], clock: ManualClock) -> None:
        self.engine, self.community, self.staff, self.clock = engine, community, staff, clock
        self.chair, self.provider = community["chair"], staff["provider"]
        self.instance_id = engine.execute(StartInstance("pdca"), self.chair).id

    def define(self, **overrides: Any) -> Series:
        self.complete("define_standard", {"plan": plan(self.provider.member_id, **overrides)})
        return self

    def ready(self) -> dict[str, str]:
        return ready(self.engine, self.instance_id)

    def instance(self) -> dict[str, Any]:
        """The instance's status, data and state as they are now."""
        with self.engine.read() as session:
            row = session.get(Instance, self.instance_id)
            return {"status": row.status, "data": row.data, "state": row.state}

    def replayed(self) -> bool:
        with self.engine.read() as session:
            return replay(session, session.get(Instance, self.instance_id)).ok

    @property
    def cycle_id(self) -> int:
        return self.instance()["data"]["cycle"]["cycle_id"]

    def complete(self, element: str, data: dict[str, Any] | None = None, actor: Actor | None = None) -> None:
        self.clock.advance(timedelta(minutes=5))
        self.engine.execute(CompleteTask(self.ready()[element], data or {}), actor or self.chair)

    def serve(self, residents: tuple[str, ...] = PDCA_RESIDENTS, hours: tuple[float, ...] = ()) -> None:
        self.clock.advance(timedelta(hours=1))
        when = (self.clock.now() - timedelta(minutes=30)).isoformat()
        rows = [{"served_at": when, "subject": f"flat of {r}", "resident_id": self.community[r].member_id} for r in residents]
        self.engine.execute(AddServiceRecords(self.cycle_id, rows=rows), self.provider)
        if hours:
            rows = [{"metric": "response_hours", "value": h, "measured_at": when} for h in hours]
            self.engine.execute(AddMeasurements(self.cycle_id, rows=rows), self.provider)

    def close_period(self) -> None:
        self.complete("service_period", {"reason": "All repairs of the month are done."})

    def rate(self, scores: dict[str, int]) -> None:
        self.close_period()
        for resident, score in scores.items():
            self.engine.execute(RateService(self.cycle_id, score, None), self.community[resident])
        self.complete("rating_window", {"reason": "Everyone served has rated."})

    def results(self) -> dict[str, tuple[float | None, str]]:
        return {r["key"]: (r["value"], r["status"]) for r in self.instance()["data"]["check"]["results"]}

    def assign(self, key: str) -> CorrectiveAction:
        due = (self.clock.now() + timedelta(days=10)).date().isoformat()
        return self.engine.execute(AssignCorrectiveAction(self.cycle_id, key, f"Fix {key}", self.provider.member_id, due), self.chair)

    def act(self) -> None:
        """Assign, carry out and verify one action per missed indicator."""
        actions = [self.assign(key) for key in self.instance()["data"]["check"]["missed"]]
        self.complete("assign_actions")
        for action in actions:
            self.engine.execute(ReportCorrectiveAction(action.id, "Done as planned."), self.provider)
        self.complete("carry_out_actions", actor=self.provider)
        for action in actions:
            self.engine.execute(VerifyCorrectiveAction(action.id, True, "Checked on site."), self.chair)
        self.complete("verify_actions")


# --- migrations, by hand ------------------------------------------------------------------------


def migrate(url: str, revision: str, *, down: bool = False) -> None:
    """Upgrade (or downgrade) the database at ``url`` to ``revision``."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)
    finally:
        engine.dispose()


def rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def run(url: str, sql: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


# --- metrics ------------------------------------------------------------------------------------


def scrape(client: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics`` (read without a token), by name and labels."""
    response = client.get("/metrics")  # no token
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}


def grew(before: dict[Any, float], after: dict[Any, float], name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


# --- consultation pages ---------------------------------------------------------------------------

def open_consultation(engine: Engine, community: Community, **topic: Any) -> str:
    """A consultation whose topic the chair has drafted (``TOPIC``, with ``topic`` over it): its opinion period is open."""
    instance_id = engine.execute(StartInstance("consultation"), community["chair"]).id
    complete_task(engine, community, instance_id, "draft_topic", {**TOPIC, **topic})
    return instance_id


def deliberate(engine: Engine, community: Community, instance_id: str, minutes: str = "Discussed every opinion.") -> None:
    """Close a consultation's opinion period early and record its meeting: the answering task is then open."""
    complete_task(engine, community, instance_id, "opinion_period", {"reason": "Enough heard."})
    complete_task(engine, community, instance_id, "record_deliberation", {
        "meeting_date": "2026-03-10", "attendees": ["王主任", "李委员"], "minutes": minutes}, who="clerk")


def convention_in_second_round(engine: Engine, community: Community, clock: ManualClock) -> tuple[str, int]:
    """A convention whose round 1 changed a1 (alice's amendment) and deleted a3 into version 2, which the vote
    rejected; round 2 is open for amendments on version 2. The instance and the convention's id."""
    instance_id = open_drafting(engine, community)
    convention_id = convention_of(engine, instance_id)
    changed = propose_amendment(engine, community, convention_id, "alice", "replace", "a1", "晚上十一点后禁止喧哗。")
    deleted = propose_amendment(engine, community, convention_id, "bob", "delete", "a3")
    review_amendments(engine, community, instance_id, [(changed, "accepted", None), (deleted, "accepted", None)])
    vote_on_convention(engine, clock, community, instance_id, {"alice": "yes", "bob": "no", "carol": "no"})
    complete_task(engine, community, instance_id, "decide_next_step", {"next_step": "another_round", "reason": "Too strict."})
    complete_task(engine, community, instance_id, "draft_convention", convention_draft(articles=None, deadline="2026-03-20T18:00"))
    return instance_id, convention_id


# --- the desk's forms, submitted on real instances ------------------------------------------------

def desk_staff(engine: Engine, community: Community) -> dict[str, Actor]:
    """A provider ("provider") and a street office ("street") added by the admin through ``AddMember``, each with a
    web sign-in code, and put in ``community`` (``community["street"]``, ``community.codes``) so ``pages_for`` signs
    them in; the same keys as ``pdca_staff``, for ``Series``."""
    from engine.identity.commands import IssueSignInCode
    made: dict[str, Actor] = {}
    for name, role in (("provider", "provider"), ("street", "street_office")):
        member = add_member(engine, community, name, [role])
        community.actors[name] = member
        community.codes[name] = engine.execute(IssueSignInCode(member.member_id), community["admin"])
        made[name] = member
    return made


def convention_voted(engine: Engine, community: Community, clock: ManualClock, *, adopted: bool) -> tuple[str, int]:
    """A convention's first round, alice's change to a1 accepted, put to the vote, which adopts the text (two yes, one
    no) or rejects it (one yes, two no): the publishing task, or the next-step task, is open. The instance and the
    convention's id."""
    instance_id = open_drafting(engine, community)
    convention_id = convention_of(engine, instance_id)
    changed = propose_amendment(engine, community, convention_id, "alice", "replace", "a1", "晚上十一点后禁止喧哗。")
    review_amendments(engine, community, instance_id, [(changed, "accepted", None)])
    choices = {"alice": "yes", "bob": "yes", "carol": "no"} if adopted else {"alice": "yes", "bob": "no", "carol": "no"}
    vote_on_convention(engine, clock, community, instance_id, choices)
    return instance_id, convention_id


def series_missed(engine: Engine, community: Community, staff: dict[str, Actor], clock: ManualClock) -> Series:
    """A quality series whose first cycle missed its satisfaction indicator (two of four residents unhappy) and its
    response time (P90 of 30 h against 24 h): the task to assign corrective actions is open."""
    series = Series(engine, community, staff, clock).define()
    series.serve(hours=(4, 12, 30))
    series.rate({"alice": 2, "bob": 4, "carol": 2, "chair": 5})
    return series


def series_escalated(engine: Engine, community: Community, staff: dict[str, Actor], clock: ManualClock) -> Series:
    """A quality series whose satisfaction was missed in two cycles in a row (the first acted on): the street office's
    review and the assignment of actions are open."""
    series = Series(engine, community, staff, clock).define()
    series.serve(residents=("alice", "bob"))
    series.rate({"alice": 2, "bob": 5})
    series.act()
    series.serve(residents=("alice", "bob"))
    series.rate({"alice": 2, "bob": 3})
    return series


# --- a migration's tables, against the models ------------------------------------------------------------------------

def table_names(url: str) -> set[str]:
    """The tables the database at ``url`` has."""
    from sqlalchemy import inspect
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def schema_differences(url: str, tables: set[str]) -> list[Any]:
    """What Alembic's autogenerate would change in ``tables`` to match the models (nothing, when a migration is right)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from engine.kernel.models import Base
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()

    def table_of(diff: Any) -> str | None:
        item = diff[0] if isinstance(diff, list) else diff
        for part in item[1:] if isinstance(item, tuple) else ():
            name = getattr(part, "name", None) if not isinstance(part, str) else part
            table = getattr(part, "table", None)
            if table is not None and getattr(table, "name", None) in tables:
                return str(table.name)
            if name in tables:
                return str(name)
        return None

    return [diff for diff in diffs if table_of(diff) is not None]

