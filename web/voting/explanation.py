"""How a result was reached, in the page's language, built from the result's numbers rather than its English words.

The tally publishes its reasons as English sentences (``result["explanation"]``), and those stay exactly as recorded:
they are part of the vote's history and of every recount. A page reads the same result's structured data instead —
the counts, the quorum's and the threshold's checks (part, whole, met), the rule, the electorate, the instant-runoff
rounds, the Schulze tiers, every tie with its lot — and says each of the engine's sentences again, one for one and
in the same order, as a translatable message with named placeholders, numbers and percentages formatted for the
locale. So a Chinese page reads Chinese and an English page carries the very numbers of the recorded sentences
(``tests/test_web_vote_explanations.py`` holds the two side by side for every method and rule).

Some sentences carry details the engine says only in data: each instant-runoff round's counts, and the order a lot
drew. The recorded English stays on the page too, in a details element, for auditors to compare.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from babel.lists import format_list
from flask_babel import format_decimal, format_percent, get_locale, ngettext, pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp

from web.i18n import translated
from web.voting.ballots import SHORT_ANSWERS

log = logging.getLogger(__name__)

Names = Callable[[str], str]
"""An option's id in words: its label, or Yes / No for a yes/no vote."""


@dataclass(frozen=True)
class Sentence:
    """One of the engine's sentences said again in the page's language, with what it lists in detail."""

    text: str
    details: list[str] = field(default_factory=list)


def namer(labels: Mapping[str, str]) -> Names:
    """Option ids in words: the option's label, or the ballot's Yes / No / Abstain (同意 / 反对 / 弃权)."""
    return lambda option: labels.get(option) or str(SHORT_ANSWERS.get(option, option))


def lots(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every lot the count drew (seed, tickets, order), for the page to publish with the recorded sentences."""
    return [tie["lot"] for tie in result.get("ties") or [] if isinstance(tie, Mapping) and tie.get("lot")]


# ---- the words a sentence is built of ----------------------------------------------------------

ELIGIBLE = {
    "residents": _l("%(part)s of %(whole)s eligible residents (%(percent)s)"),
    "households": _l("%(part)s of %(whole)s eligible households (%(percent)s)"),
    "owners": _l("%(part)s of %(whole)s eligible owners (%(percent)s)"),
    "voters": _l("%(part)s of %(whole)s eligible voters (%(percent)s)"),
}
"""A count of the eligible, by the electorate's own name for its members (``heads_label``)."""
BALLOT_BASES = {
    "with_abstentions": _l("%(part)s of %(whole)s ballots cast including abstentions (%(percent)s)"),
    "without_abstentions": _l("%(part)s of %(whole)s ballots cast excluding abstentions (%(percent)s)"),
    "yes_no": _l("%(part)s of %(whole)s yes/no votes (%(percent)s)"),
}
"""A count of the ballots a threshold is measured against."""
UNITS = {"m²": _lp("unit", "m²"), "weight": _lp("unit", "weight")}
MAJORITY_BY_HEADS = {"residents": _lp("majority by", "residents"), "households": _lp("majority by", "households"),
                     "owners": _lp("majority by", "owners"), "voters": _lp("majority by", "voters")}
MAJORITY_BY_WEIGHT = {"m²": _lp("majority by", "m²"), "weight": _lp("majority by", "weight")}
CHINESE_NUMERALS = "零一二三四五六七八九十"
LOT = _l("sha256 of the vote's seed and each option's id, the lowest ticket favoured")
"""The lot's rule (``engine.voting.counting.lots.RULE``) in words."""


def fraction(value: Any) -> Fraction:
    """A published number (``{"fraction": "2/3", "decimal": …}``), a share written ``"p/q"``, or an int."""
    if isinstance(value, Mapping):
        return Fraction(str(value["fraction"]))
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return Fraction(value)
    raise TypeError(f"not a number: {value!r}")


def number(value: Any) -> str:
    """A count or a weight as the locale writes it, to 6 places at most as the engine rounds it (18,432.5)."""
    return format_decimal(Decimal(round(fraction(value) * 10**6)).scaleb(-6), format="#,##0.######")


def percent(part: Any, whole: Any) -> str:
    """``part`` of ``whole`` as a percentage to one place, rounded as the engine rounds it (70.7%)."""
    total = fraction(whole)
    if not total:
        return "—"
    return format_percent(Decimal(round(1000 * fraction(part) / total)).scaleb(-3), format="#,##0.#%")


def share(text: Any) -> str:
    """A rule's share (``"2/3"``): 2/3 in English, 三分之二 in Chinese."""
    value = fraction(text)
    return _("%(numerator)s/%(denominator)s", numerator=_numeral(value.numerator), denominator=_numeral(value.denominator))


def _numeral(n: int) -> str:
    locale = get_locale()
    if locale is not None and locale.language == "zh" and 0 <= n <= 10:
        return CHINESE_NUMERALS[n]
    return format_decimal(n)


def names(options: Sequence[str], name: Names) -> str:
    """Options as a list in a sentence: “A, B, and C”, “A、B和C”."""
    return format_list([name(o) for o in options], locale=get_locale()) if options else ""


def series(items: Sequence[str]) -> str:
    """Items one after the other (the order they were eliminated in): “A, B”, “A、B”."""
    return pgettext("list separator", ", ").join(items)


def clauses(items: Sequence[str]) -> str:
    """Parts of one sentence: “yes 2 votes; no 1 vote”, “同意 2票；反对 1票”."""
    return pgettext("list separator", "; ").join(items)


def both(first: str, second: str | None = None) -> str:
    return first if second is None else _("%(first)s and %(second)s", first=first, second=second)


def votes(heads: int) -> str:
    return ngettext("%(count)s vote", "%(count)s votes", heads, count=number(heads))


# ---- the electorate ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Electorate:
    heads: Any
    weight: Any
    weighted: bool
    label: str
    unit: str

    @classmethod
    def of(cls, result: Mapping[str, Any]) -> Electorate:
        data = result["electorate"]
        return cls(data["heads"], data.get("weight", data["heads"]), bool(data.get("weighted")),
                   str(data.get("heads_label", "voters")), str(data.get("weight_unit", "weight")))

    def unit_words(self) -> str:
        return str(UNITS.get(self.unit, self.unit))

    def amount(self, amount: Mapping[str, Any]) -> str:
        """A count as a sentence reads it: “40 votes”, or “40 votes (3,120.5 m²)” in a weighted vote."""
        heads = votes(amount["heads"])
        if not self.weighted:
            return heads
        return _("%(votes)s (%(weight)s %(unit)s)", votes=heads, weight=number(amount["weight"]), unit=self.unit_words())

    def measure(self, amount: Mapping[str, Any], basis: str) -> str:
        """A count on one basis: “3 votes” or “450 m²”."""
        if basis == "heads":
            return votes(amount["heads"])
        return _("%(weight)s %(unit)s", weight=number(amount["weight"]), unit=self.unit_words())

    def eligible(self, part: Any, whole: Any) -> str:
        values = {"part": number(part), "whole": number(whole), "percent": percent(part, whole)}
        if self.label in ELIGIBLE:
            return str(ELIGIBLE[self.label]) % values
        return _("%(part)s of %(whole)s eligible %(people)s (%(percent)s)", people=self.label, **values)

    def weight_part(self, part: Any, whole: Any) -> str:
        return _("%(part)s of %(whole)s %(unit)s (%(percent)s)", part=number(part), whole=number(whole),
                 percent=percent(part, whole), unit=self.unit_words())


def checks_text(checks: Sequence[Mapping[str, Any]], heads: Callable[[Any, Any], str], electorate: Electorate) -> str:
    """“212 of 300 eligible owners (70.7%) and 18,432.5 of 25,000 m² (73.7%)”."""
    parts = [heads(c["part"], c["whole"]) if c["basis"] == "heads" else electorate.weight_part(c["part"], c["whole"])
             for c in checks]
    return both(*parts) if len(parts) <= 2 else series(parts)


def required(rule_part: Mapping[str, Any], checks: Sequence[Mapping[str, Any]]) -> str:
    amount = share(rule_part["share"])
    if len(checks) > 1:
        return _("more than %(share)s of each", share=amount) if rule_part["strict"] else _("at least %(share)s of each", share=amount)
    return _("more than %(share)s", share=amount) if rule_part["strict"] else _("at least %(share)s", share=amount)


# ---- the sentences -------------------------------------------------------------------------------


def explain(result: Mapping[str, Any], name: Names) -> list[Sentence]:
    """The result's explanation in the page's language, one sentence for each of the engine's, in its order."""
    electorate = Electorate.of(result)
    method = result["method"]
    ties = list(result.get("ties") or [])
    return [
        quorum_sentence(result, electorate),
        count_sentence(result, electorate, name),
        *threshold_sentences(result, electorate, name),
        *(tie_sentence(tie, result, electorate, name) for tie in ties),
        verdict(result, method, electorate, name),
    ]


def explained(result: Mapping[str, Any], name: Names) -> list[Sentence]:
    """``explain``; for a result whose data this page cannot read, the recorded sentences, translated where a
    catalogue has them (never a 500 on a result page)."""
    try:
        return explain(result, name)
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError, AttributeError, ArithmeticError):
        log.exception("a vote result this page cannot explain")
        return [Sentence(translated(str(sentence))) for sentence in result.get("explanation") or []]


def quorum_sentence(result: Mapping[str, Any], electorate: Electorate) -> Sentence:
    quorum, rule = result.get("quorum"), result["rule"].get("quorum")
    if quorum is None or rule is None:
        cast = result["counts"]["cast"]
        checks = [{"basis": "heads", "part": cast["heads"], "whole": electorate.heads}]
        if electorate.weighted:
            checks.append({"basis": "weight", "part": cast["weight"], "whole": electorate.weight})
        return Sentence(_("Quorum: none required; %(measured)s took part.",
                          measured=checks_text(checks, electorate.eligible, electorate)))
    values = {"measured": checks_text(quorum["checks"], electorate.eligible, electorate),
              "required": required(rule, quorum["checks"])}
    if rule.get("abstentions_count", True):
        if quorum["met"]:
            return Sentence(_("Quorum: %(measured)s took part; %(required)s was required — met.", **values))
        return Sentence(_("Quorum: %(measured)s took part; %(required)s was required — not met.", **values))
    if quorum["met"]:
        return Sentence(_("Quorum: %(measured)s took part without abstaining; %(required)s was required — met.", **values))
    return Sentence(_("Quorum: %(measured)s took part without abstaining; %(required)s was required — not met.", **values))


def count_sentence(result: Mapping[str, Any], electorate: Electorate, name: Names) -> Sentence:
    method = result["method"]
    if method == "irv":
        return runoff_sentence(result["rounds"], name)
    if method == "schulze":
        if not result["counts"]["voting"]["heads"]:
            return Sentence(_("Schulze: no ballot ranked any option."))
        order = " > ".join(" = ".join(name(o) for o in tier) for tier in result["tiers"])
        return Sentence(_("Schulze order (strongest paths, winning votes): %(order)s.", order=order),
                        schulze_details(result, name))
    counts = result["counts"]
    listed = clauses([_("%(option)s %(votes)s", option=name(option), votes=electorate.amount(amount))
                      for option, amount in counts["options"].items()])
    abstained = electorate.amount(counts["abstentions"])
    if method == "approval":
        return Sentence(_("Approvals: %(counts)s; abstained %(abstained)s.", counts=listed, abstained=abstained))
    return Sentence(_("Count: %(counts)s; abstained %(abstained)s.", counts=listed, abstained=abstained))


def runoff_sentence(rounds: Sequence[Mapping[str, Any]], name: Names) -> Sentence:
    if not rounds:
        return Sentence(_("Instant runoff: no ballot ranked any option."))
    last = rounds[-1]
    eliminated = [name(option) for r in rounds for option in r.get("eliminated", [])]
    values = {"rounds": ngettext("%(count)s round", "%(count)s rounds", len(rounds), count=number(len(rounds))),
              "eliminated": series(eliminated), "round": number(last["round"])}
    winner = last.get("elected")
    if winner is not None:
        values |= {"winner": name(winner), "votes": number(last["counts"][winner]), "continuing": number(last["continuing"])}
        text = (_("Instant runoff: %(rounds)s; eliminated in turn: %(eliminated)s; %(winner)s had %(votes)s of "
                  "%(continuing)s continuing ballots in round %(round)s.", **values) if eliminated else
                _("Instant runoff: %(rounds)s; %(winner)s had %(votes)s of %(continuing)s continuing ballots in round "
                  "%(round)s.", **values))
    else:
        text = (_("Instant runoff: %(rounds)s; eliminated in turn: %(eliminated)s; the count stopped at a tie in round "
                  "%(round)s.", **values) if eliminated else
                _("Instant runoff: %(rounds)s; the count stopped at a tie in round %(round)s.", **values))
    return Sentence(text, [round_line(r, name) for r in rounds])


def round_line(record: Mapping[str, Any], name: Names) -> str:
    """One round of an instant runoff: each option's first preferences, and who went out or was elected."""
    values = {"round": number(record["round"]),
              "counts": series([_("%(option)s %(votes)s", option=name(o), votes=votes(n)) for o, n in record["counts"].items()]),
              "continuing": number(record["continuing"]), "exhausted": number(record["exhausted"])}
    if record.get("elected") is not None:
        return _("Round %(round)s: %(counts)s (%(continuing)s continuing ballots, %(exhausted)s exhausted); elected: "
                 "%(elected)s.", elected=name(record["elected"]), **values)
    if record.get("eliminated"):
        return _("Round %(round)s: %(counts)s (%(continuing)s continuing ballots, %(exhausted)s exhausted); eliminated: "
                 "%(eliminated)s.", eliminated=names(record["eliminated"], name), **values)
    return _("Round %(round)s: %(counts)s (%(continuing)s continuing ballots, %(exhausted)s exhausted).", **values)


def schulze_details(result: Mapping[str, Any], name: Names) -> list[str]:
    """How the winners of the Schulze order stand against each other option, ballot for ballot."""
    pairwise, tiers = result.get("pairwise") or {}, result["tiers"]
    lines, done = [], set()
    for option in tiers[0]:
        done.add(option)
        for other in [o for tier in tiers for o in tier if o not in done]:
            ahead, behind = pairwise[option][other], pairwise[other][option]
            lines.append(_("%(option)s against %(other)s: %(ahead)s ballots rank %(option)s higher, %(behind)s rank "
                           "%(other)s higher.", option=name(option), other=name(other), ahead=number(ahead),
                           behind=number(behind)))
    return lines


def threshold_sentences(result: Mapping[str, Any], electorate: Electorate, name: Names) -> list[Sentence]:
    rule = result["rule"].get("threshold")
    if rule is None or result.get("threshold") is None:
        return []

    def heads(part: Any, whole: Any) -> str:
        if rule["of_eligible"]:
            return electorate.eligible(part, whole)
        base = ("with_abstentions" if rule["abstentions_in_base"] else
                "yes_no" if result["method"] == "yes_no_abstain" else "without_abstentions")
        return str(BALLOT_BASES[base]) % {"part": number(part), "whole": number(whole), "percent": percent(part, whole)}

    sentences = []
    for evaluation in result["threshold"]:
        values = {"subject": name(evaluation["option"]), "measured": checks_text(evaluation["checks"], heads, electorate),
                  "required": required(rule, evaluation["checks"])}
        if evaluation["met"]:
            sentences.append(Sentence(_("Threshold: %(subject)s had %(measured)s; %(required)s was required — met.", **values)))
        else:
            sentences.append(Sentence(_("Threshold: %(subject)s had %(measured)s; %(required)s was required — not met.",
                                        **values)))
    return sentences


def tie_sentence(tie: Mapping[str, Any], result: Mapping[str, Any], electorate: Electorate, name: Names) -> Sentence:
    kind = tie["kind"]
    if kind == "yes_no":
        evaluation = result["threshold"][0]
        yes = result["counts"]["options"]["yes"]
        level = [electorate.measure(yes, c["basis"]) for c in evaluation["checks"] if not c["met"]]
        return Sentence(_("Tie: yes and no had %(level)s each; a yes/no vote is never decided by lot.", level=both(*level)))
    if kind == "first_place":
        return first_place_tie(tie, result, electorate, name)
    if kind == "elimination":
        return elimination_tie(tie, result, name)
    if kind == "ranking":
        return Sentence(_("Level in the Schulze order: %(options)s; the lot lists them as %(order)s (this decides "
                          "nothing).", options=names(tie["tied"], name), order=series([name(o) for o in tie["order"]])),
                        lot_details(tie, name))
    raise ValueError(f"a tie of an unknown kind: {kind!r}")


def first_place_tie(tie: Mapping[str, Any], result: Mapping[str, Any], electorate: Electorate, name: Names) -> Sentence:
    tied = names(tie["tied"], name)
    if result["method"] == "schulze":
        if tie["resolved_by"] == "lot":
            return Sentence(_("Tie for first place: %(options)s are unbeaten in the Schulze order; the lot (%(lot)s) chose "
                              "%(winner)s.", options=tied, lot=LOT, winner=name(tie["winner"])), lot_details(tie, name))
        return Sentence(_("Tie for first place: %(options)s are unbeaten in the Schulze order; the rule does not draw "
                          "lots, so it stands.", options=tied))
    level = electorate.measure(result["counts"]["options"][tie["tied"][0]], result["rule"].get("rank_by", "heads"))
    if tie["resolved_by"] == "lot":
        return Sentence(_("Tie for first place: %(options)s had %(level)s each; the lot (%(lot)s) chose %(winner)s.",
                          options=tied, level=level, lot=LOT, winner=name(tie["winner"])), lot_details(tie, name))
    return Sentence(_("Tie for first place: %(options)s had %(level)s each; the rule does not draw lots, so it stands.",
                      options=tied, level=level))


def elimination_tie(tie: Mapping[str, Any], result: Mapping[str, Any], name: Names) -> Sentence:
    values = {"options": names(tie["tied"], name), "round": number(tie["round"]), "votes": number(tie["votes"])}
    if tie["resolved_by"] == "earlier_round":
        return Sentence(_("Tie for elimination: %(options)s had the fewest votes in round %(round)s (%(votes)s each); "
                          "%(eliminated)s had fewer in round %(earlier)s and was eliminated.", eliminated=name(tie["eliminated"]),
                          earlier=number(tie["decided_in_round"]), **values))
    drawn = level_before(tie, result["rounds"])
    they = len(drawn) == len(tie["tied"])
    first = tie["round"] == 1
    if tie["resolved_by"] == "lot":
        values |= {"lot": LOT, "eliminated": name(tie["eliminated"]), "level": names(drawn, name)}
        if first:
            text = _("Tie for elimination: %(options)s had the fewest votes in round %(round)s (%(votes)s each); the lot "
                     "(%(lot)s) put %(eliminated)s last and it was eliminated.", **values)
        elif they:
            text = _("Tie for elimination: %(options)s had the fewest votes in round %(round)s (%(votes)s each); they were "
                     "level in every earlier round too; the lot (%(lot)s) put %(eliminated)s last and it was eliminated.",
                     **values)
        else:
            text = _("Tie for elimination: %(options)s had the fewest votes in round %(round)s (%(votes)s each); "
                     "%(level)s were level in every earlier round too; the lot (%(lot)s) put %(eliminated)s last and it "
                     "was eliminated.", **values)
        return Sentence(text, lot_details(tie, name))
    values |= {"level": names(drawn, name)}
    if first:
        text = _("Tie for elimination: %(options)s had the fewest votes in round %(round)s (%(votes)s each); the rule "
                 "does not draw lots, so the count stops and the result is a tie.", **values)
    elif they:
        text = _("Tie for elimination: %(options)s had the fewest votes in round %(round)s (%(votes)s each); they were "
                 "level in every earlier round too; the rule does not draw lots, so the count stops and the result is a "
                 "tie.", **values)
    else:
        text = _("Tie for elimination: %(options)s had the fewest votes in round %(round)s (%(votes)s each); %(level)s "
                 "were level in every earlier round too; the rule does not draw lots, so the count stops and the result "
                 "is a tie.", **values)
    return Sentence(text)


def level_before(tie: Mapping[str, Any], rounds: Sequence[Mapping[str, Any]]) -> list[str]:
    """Of the options tied for elimination, those still level after looking back over every earlier round (the
    backwards tie-break, as ``methods._backwards`` does it): the ones a lot had to, or could not, settle."""
    still = list(tie["tied"])
    for earlier in reversed(rounds[: tie["round"] - 1]):
        fewest = min(earlier["counts"][o] for o in still)
        still = [o for o in still if earlier["counts"][o] == fewest]
    return still


def lot_details(tie: Mapping[str, Any], name: Names) -> list[str]:
    lot = tie.get("lot")
    if not lot:
        return []
    return [_("The lot's order, most favoured first: %(order)s.", order=series([name(o) for o in lot["order"]]))]


def verdict(result: Mapping[str, Any], method: str, electorate: Electorate, name: Names) -> Sentence:
    outcome = result["outcome"]
    if outcome == "invalid":
        return Sentence(_("Outcome: invalid — the quorum was not met, so the vote decides nothing."))
    if method == "yes_no_abstain":
        if outcome == "passed":
            return Sentence(_("Outcome: passed."))
        if outcome == "tie":
            return Sentence(_("Outcome: tie — yes and no were level."))
        checks = result["threshold"][0]["checks"]
        if len(checks) > 1:
            failed = {c["basis"] for c in checks if not c["met"]}
            people = str(MAJORITY_BY_HEADS.get(electorate.label, electorate.label))
            unit = str(MAJORITY_BY_WEIGHT.get(electorate.unit, electorate.unit))
            if failed == {"heads"}:
                return Sentence(_("Outcome: rejected — the majority by %(people)s was not reached.", people=people))
            if failed == {"weight"}:
                return Sentence(_("Outcome: rejected — the majority by %(unit)s was not reached.", unit=unit))
            return Sentence(_("Outcome: rejected — the majority by %(people)s and by %(unit)s was not reached.",
                              people=people, unit=unit))
        return Sentence(_("Outcome: rejected."))
    if outcome == "passed":
        return Sentence(_("Outcome: passed — %(winner)s wins.", winner=name(result["winner"])))
    if outcome == "rejected":
        if not result.get("threshold"):
            return Sentence(_("Outcome: rejected — no ballot chose an option."))
        return Sentence(_("Outcome: rejected — no option reached the threshold."))
    return Sentence(_("Outcome: tie — %(options)s are level and the rule draws no lots.",
                      options=names(contenders(result), name)))


def contenders(result: Mapping[str, Any]) -> list[str]:
    """The options level at the top when the count could not name a winner."""
    if result.get("threshold"):
        return [evaluation["option"] for evaluation in result["threshold"]]
    if result["method"] == "irv":
        return list(result["rounds"][-1]["counts"])
    if result["method"] == "schulze":
        return list(result["tiers"][0])
    return next(list(t["tied"]) for t in result["ties"] if t["kind"] == "first_place")
