"""A ballot as a page shows and posts it, and a vote's method and rule in words.

The choice a page posts is turned into exactly what the API's ``CastSchema`` takes for the vote's method: a string
(``yes``/``no``/``abstain``, an option id or ``abstain``) for yes/no/abstain and plurality; a list of option ids for
approval (empty: abstain); a list of option ids, most preferred first, for ranked methods (empty: abstain). Whether
a choice is valid is the engine's own check (``choice_problem``); this module only says it in the resident's words.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_babel import pgettext
from werkzeug.datastructures import MultiDict

from engine.voting.counting.ballots import RANKED, choice_problem
from engine.kernel.errors import InvalidInput
from engine.voting.counting.rules import read_rule

RANK_PREFIX = "rank-"
MAX_FIELD = 200
"""A posted value longer than any option id or rank is refused before anything else looks at it."""

ANSWERS = {"yes": _l("Yes, I agree"), "no": _l("No, I disagree"), "abstain": _l("I abstain")}
SHORT_ANSWERS = {"yes": _lp("ballot answer", "Yes"), "no": _lp("ballot answer", "No"), "abstain": _lp("ballot answer", "Abstain")}
OUTCOMES = {"passed": _l("Passed"), "rejected": _l("Rejected"), "tie": _l("Tie"), "invalid": _l("Not valid")}
METHODS = {
    "yes_no_abstain": _l("Yes, no or abstain: choose one answer."),
    "plurality": _l("One option: choose the one you prefer. The option chosen by the most voters wins."),
    "approval": _l("Approval: tick every option you accept, as many as you like. The option accepted by the most voters wins."),
    "irv": _l("Ranking (instant runoff): number the options in your order of preference, 1 for your favourite. You need "
              "not rank them all. The option with the fewest first preferences is eliminated and its ballots go to their "
              "next preference, round after round, until one option has more than half."),
    "schulze": _l("Ranking (Schulze method): number the options in your order of preference, 1 for your favourite. You need "
                  "not rank them all. Every pair of options is compared on all ballots; the option that beats every other wins."),
}


@dataclass(frozen=True)
class Read:
    """A posted choice: what the API would be sent, or why it cannot be."""

    choice: Any
    error: str | None = None


def ordinal(n: int) -> str:
    return _("%(n)sst", n=n) if n == 1 else _("%(n)snd", n=n) if n == 2 else _("%(n)srd", n=n) if n == 3 else _("%(n)sth", n=n)


def option_ids(vote: Any) -> list[str]:
    return [str(o["id"]) for o in vote.options]


def read_choice(vote: Any, form: MultiDict[str, str]) -> Read:
    """The choice a ballot form posted, as the API takes it for the vote's method."""
    if vote.method in RANKED:
        return _read_ranking(vote, form)
    values = form.getlist("choice")
    if any(len(v) > MAX_FIELD or "\x00" in v for v in values):
        return Read(None, _("Choose among the answers listed."))
    if vote.method == "approval":
        if len(values) > len(vote.options) or choice_problem(vote.method, values, option_ids(vote)):
            return Read(None, _("Tick only options listed on the ballot, each once."))
        return Read(values)
    if not values:
        return Read(None, _("Choose an answer.") if vote.method == "yes_no_abstain" else _("Choose an option, or abstain."))
    if len(values) > 1 or choice_problem(vote.method, values[0], option_ids(vote)):
        return Read(None, _("Choose one of the answers listed."))
    return Read(values[0])


def _read_ranking(vote: Any, form: MultiDict[str, str]) -> Read:
    ranks: dict[str, int] = {}
    count = len(vote.options)
    for option in option_ids(vote):
        values = form.getlist(RANK_PREFIX + option)
        value = values[0] if len(values) == 1 else "" if not values else None
        if value is None or len(value) > 3 or (value and not (value.isascii() and value.isdigit() and 1 <= int(value) <= count)):
            return Read(None, _("Give each option a rank from the list, or leave it not ranked."))
        if value:
            ranks[option] = int(value)
    taken: dict[int, str] = {}
    for option, rank in ranks.items():
        if rank in taken:
            return Read(None, _("Two options have the same rank (%(rank)s): give each option its own rank, or leave one "
                                "not ranked.", rank=ordinal(rank)))
        taken[rank] = option
    choice = [taken[rank] for rank in sorted(taken)]
    if choice_problem(vote.method, choice, option_ids(vote)):
        return Read(None, _("Give each option a rank from the list, or leave it not ranked."))
    return Read(choice)


def form_fields(vote: Any, choice: Any) -> list[tuple[str, str]]:
    """The (name, value) pairs a ballot form posts for ``choice``: the confirmation page carries them in hidden fields."""
    if vote.method in RANKED:
        return [(RANK_PREFIX + option, str(i)) for i, option in enumerate(choice, start=1)]
    if vote.method == "approval":
        return [("choice", option) for option in choice]
    return [("choice", str(choice))]


def selected(vote: Any, choice: Any) -> dict[str, Any]:
    """What a ballot form shows chosen: option id → True (radios, checkboxes) or its rank (ranked)."""
    if choice is None:
        return {}
    if vote.method in RANKED:
        return {option: i for i, option in enumerate(choice, start=1)} if isinstance(choice, list) else {}
    if isinstance(choice, list):
        return {option: True for option in choice if isinstance(option, str)}
    return {choice: True} if isinstance(choice, str) else {}


def labels(vote: Any) -> dict[str, str]:
    return {str(o["id"]): str(o["label"]) for o in vote.options}


def choice_lines(vote: Any, choice: Any) -> list[str]:
    """A choice in words, a line each: what the confirmation page, the board and a receipt check show."""
    names = labels(vote)
    if vote.method == "yes_no_abstain":
        return [str(SHORT_ANSWERS.get(choice, choice))]
    if vote.method == "plurality":
        return [str(SHORT_ANSWERS["abstain"]) if choice == "abstain" else names.get(choice, str(choice))]
    if not choice:
        return [_("No option (an abstention)")]
    if vote.method == "approval":
        return [names.get(option, str(option)) for option in choice]
    return [_("%(rank)s: %(option)s", rank=ordinal(i), option=names.get(option, str(option))) for i, option in enumerate(choice, start=1)]


def unranked(vote: Any, choice: Any) -> list[str]:
    names = labels(vote)
    return [names[o] for o in option_ids(vote) if o not in choice] if vote.method in RANKED and isinstance(choice, list) else []


def rule_lines(vote: Any) -> list[str]:
    """The vote's rule in words: the turnout it needs, the majority that carries it, how ties are settled."""
    try:
        rule = read_rule(vote.rule, vote.method, vote.weighted)
    except InvalidInput:
        return []
    lines = []
    if rule.preset:
        lines.append(_("This vote follows article 278 of the Civil Code (decisions of the owners)."))
    if rule.quorum is None:
        lines.append(_("No minimum turnout is required."))
    else:
        lines.append(_("%(amount)s %(share)s of %(whom)s must take part%(abstaining)s.",
                       amount=_amount(rule.quorum.strict), share=_share(rule.quorum.share), whom=_whom(rule.quorum.basis),
                       abstaining="" if rule.quorum.abstentions_count else _(" (abstentions do not count towards it)")))
    threshold = rule.threshold
    if threshold is not None:
        if threshold.of_eligible:
            base = _whom(threshold.basis)
        elif threshold.abstentions_in_base:
            base = _("the ballots cast, abstentions included")
        elif vote.method == "yes_no_abstain":
            base = _("the yes and no votes (abstentions left out)")
        else:
            base = _("the ballots cast (abstentions left out)")
        subject = pgettext("ballot answer", "Yes") if vote.method == "yes_no_abstain" else _("The leading option")
        lines.append(_("%(subject)s needs %(amount)s %(share)s of %(base)s.", subject=subject,
                       amount=_amount(threshold.strict).lower(), share=_share(threshold.share), base=base))
    if vote.method == "yes_no_abstain":
        lines.append(_("If yes and no are level, the result is a tie: a yes/no vote is never decided by lot."))
    elif rule.ties == "lot":
        lines.append(_("A tie is settled by a lot that anyone can check (published with the result)."))
    else:
        lines.append(_("A tie is not settled by lot: the result is then a tie."))
    return lines


def _amount(strict: bool) -> str:
    return _("More than") if strict else _("At least")


def _share(share: Fraction) -> str:
    return _("half") if share == Fraction(1, 2) else f"{share.numerator}/{share.denominator}"


def _whom(basis: str) -> str:
    return {"heads": _("the eligible voters"), "weight": _("the eligible floor area"),
            "both": _("the eligible voters and of their floor area")}.get(basis, basis)
