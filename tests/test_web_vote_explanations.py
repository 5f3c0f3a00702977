"""How a result was reached, in the page's language: every method and rule explained from the result's numbers
(web/voting/explanation.py), the Chinese block with no English sentence, the English one with the very numbers of the
engine's recorded sentences, ties, lots and instant-runoff rounds spelled out, the recorded English kept for auditors.

The first tests tally hand-made profiles (and the recorded histories' results) and render the page's explanation block
in each locale, without a database; the last ones go through a real vote's page on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string
from flask_babel import force_locale
from lxml import html as lxml_html

from engine.bootstrap import Engine
from engine.kernel.clock import ManualClock
from engine.kernel.errors import InvalidInput
from engine.voting.commands import CastBallot
from engine.voting.counting.tally import tally
from engine.voting.models import Vote
from tests.builders import close_by_deadline, open_vote
from tests.helpers import Community
from tests.pages import Pages, pages_for
from web.i18n import install
from web.voting import explanation as words

pytestmark = pytest.mark.pages

ROOT = Path(__file__).resolve().parent.parent
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
LETTERS = re.compile(r"[A-Za-z]")
ENGLISH_NAMES = {"a": "Park", "b": "Bikes", "c": "Parking", "d": "Garden", "e": "Pavilion"}
CHINESE_NAMES = {"a": "小公园", "b": "自行车棚", "c": "停车位", "d": "花园", "e": "凉亭",
                 "gate": "大门", "yard": "院子", "roof": "屋顶"}
OWNERS = {"heads": 10, "weight": "1000", "heads_label": "owners", "weight_unit": "m²"}
RESIDENTS = {"heads": 12, "heads_label": "residents"}
YES_NO_ONLY_278 = {"preset": "civil_code_278", "threshold": {"kind": "simple_majority", "basis": "both"}}


def ballots(*groups: tuple[int, Any]) -> list[dict[str, Any]]:
    return [{"choice": choice} for number, choice in groups for _ in range(number)]


def weighted(*groups: tuple[int, Any, str]) -> list[dict[str, Any]]:
    return [{"choice": choice, "weight": weight} for number, choice, weight in groups for _ in range(number)]


def rankings(*choices: list[str]) -> list[dict[str, Any]]:
    return [{"choice": choice} for choice in choices]


def vote(method: str, rule: Any = None, options: str = "abc") -> dict[str, Any]:
    config: dict[str, Any] = {"method": method, "seed": "vote-2026-07", "rule": rule if rule is not None else {}}
    if method != "yes_no_abstain":
        config["options"] = list(options)
    return config


# Each case: the ballots, the vote, the electorate, and a phrase its recorded explanation must hold (so a case that
# stopped reaching its branch fails here rather than passing on another branch).
CASES: dict[str, tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], str]] = {
    "yes_no simple majority": (ballots((6, "yes"), (3, "no"), (2, "abstain")), vote("yes_no_abstain"), RESIDENTS, "Outcome: passed."),
    "yes_no quorum met": (ballots((5, "yes"), (3, "no")), vote("yes_no_abstain", {"quorum": {"share": "2/3"}}), RESIDENTS,
                          "at least 2/3 was required — met"),
    "yes_no quorum without abstaining, not met": (
        ballots((4, "yes"), (2, "no"), (3, "abstain")),
        vote("yes_no_abstain", {"quorum": {"share": "2/3", "strict": True, "abstentions_count": False}}), RESIDENTS,
        "took part without abstaining; more than 2/3 was required — not met"),
    "yes_no abstentions in base": (ballots((3, "yes"), (2, "no"), (1, "abstain")),
                                   vote("yes_no_abstain", {"threshold": {"kind": "simple_majority", "abstentions_in_base": True}}),
                                   RESIDENTS, "ballots cast including abstentions"),
    "yes_no majority of eligible": (ballots((6, "yes"), (1, "no")), vote("yes_no_abstain", {"threshold": {"kind": "majority_of_eligible"}}),
                                    RESIDENTS, "of 12 eligible residents"),
    "yes_no two thirds": (ballots((6, "yes"), (4, "no")), vote("yes_no_abstain", {"threshold": {"kind": "two_thirds"}}), RESIDENTS,
                          "at least 2/3 was required — not met"),
    "yes_no custom strict": (ballots((6, "yes"), (4, "no")),
                             vote("yes_no_abstain", {"threshold": {"kind": "custom", "fraction": "3/5", "strict": True}}),
                             RESIDENTS, "more than 3/5 was required — not met"),
    "yes_no tie": (ballots((4, "yes"), (4, "no"), (3, "abstain")), vote("yes_no_abstain"), RESIDENTS, "Tie: yes and no had 4 votes each"),
    "yes_no all abstain": (ballots((5, "abstain")), vote("yes_no_abstain"), {"heads": 7, "heads_label": "households"}, "Outcome: rejected."),
    "art. 278 passed": (weighted((5, "yes", "50"), (3, "no", "150")), vote("yes_no_abstain", "civil_code_278"), OWNERS,
                        "of each was required — met"),
    "art. 278 rejected by owners": (weighted((3, "yes", "150"), (5, "no", "50")), vote("yes_no_abstain", "civil_code_278"), OWNERS,
                                    "the majority by owners was not reached"),
    "art. 278 rejected by area": (weighted((5, "yes", "50"), (3, "no", "150")), vote("yes_no_abstain", "civil_code_278_major"),
                                  OWNERS, "the majority by owners and by m² was not reached"),
    "art. 278 rejected by m²": (weighted((5, "yes", "60"), (3, "no", "150")), vote("yes_no_abstain", "civil_code_278"), OWNERS,
                                "the majority by m² was not reached"),
    "art. 278 tie on both": (weighted((4, "yes", "100"), (4, "no", "100")), vote("yes_no_abstain", YES_NO_ONLY_278), OWNERS,
                             "Tie: yes and no had 4 votes and 400 m² each"),
    "art. 278 major passed": (weighted((6, "yes", "100"), (2, "no", "100")), vote("yes_no_abstain", "civil_code_278_major"),
                              OWNERS, "at least 3/4 of each was required — met"),
    "art. 278 invalid": (weighted((5, "yes", "50"), (2, "yes", "150")), vote("yes_no_abstain", "civil_code_278"), OWNERS,
                         "Outcome: invalid"),
    "art. 278 decimal area": (weighted((2, "yes", "18432.5"), (1, "no", "64.25")), vote("yes_no_abstain", "civil_code_278"),
                              {**OWNERS, "heads": 4, "weight": "55000.5"}, "36,929.25 of 55,000.5 m²"),
    "plurality winner": (ballots((4, "a"), (2, "b"), (1, "abstain")), vote("plurality"), RESIDENTS, "Outcome: passed — a wins."),
    "plurality tie by lot": (ballots((3, "a"), (3, "b"), (1, "c")), vote("plurality"), RESIDENTS, "the lot (sha256"),
    "plurality tie unresolved": (ballots((3, "a"), (3, "b")), vote("plurality", {"ties": "unresolved"}), RESIDENTS,
                                 "are level and the rule draws no lots"),
    "plurality threshold not reached": (ballots((4, "a"), (3, "b"), (3, "c")),
                                        vote("plurality", {"threshold": {"kind": "simple_majority"}}), RESIDENTS,
                                        "no option reached the threshold"),
    "plurality tie unresolved with threshold": (ballots((3, "a"), (3, "b")),
                                                vote("plurality", {"ties": "unresolved", "threshold": {"kind": "custom", "fraction": "1/3", "strict": False}}),
                                                RESIDENTS, "Threshold: b had"),
    "plurality nobody chose": (ballots((3, "abstain")), vote("plurality"), RESIDENTS, "no ballot chose an option"),
    "plurality quorum not met": (ballots((2, "a")), vote("plurality", {"quorum": {"share": "1/2"}}), RESIDENTS, "Outcome: invalid"),
    "plurality by area, tie": (weighted((1, "a", "100"), (2, "b", "50")), vote("plurality", {"rank_by": "weight"}), OWNERS,
                               "had 100 m² each"),
    "approval winner": (ballots((3, ["a", "b"]), (2, ["b"]), (1, [])), vote("approval"), RESIDENTS, "Approvals:"),
    "approval tie by lot, threshold": (weighted((2, ["a", "b"], "100"), (1, ["c"], "100")),
                                       vote("approval", {"threshold": {"kind": "simple_majority", "basis": "both"}}),
                                       OWNERS | {"heads": 4, "weight": "400"}, "Tie for first place"),
    "irv first round": (rankings(["a", "b"], ["a"], ["b", "a"]), vote("irv"), RESIDENTS, "1 round;"),
    "irv rounds": (ballots((3, ["a", "b", "c"]), (3, ["b", "a"]), (2, ["c", "b"]), (2, ["d"]), (1, [])), vote("irv", options="abcd"),
                   RESIDENTS, "eliminated in turn"),
    "irv tie settled by an earlier round": (rankings(["d"], ["a"], ["c", "a"], ["b", "e"], ["d", "b"]), vote("irv", options="abcde"),
                                            RESIDENTS, "had fewer in round"),
    "irv tie by lot in round 1": (rankings(["d"], ["c", "d"], ["e"], ["a"], ["b"]), vote("irv", options="abcde"), RESIDENTS,
                                  "in round 1 (1 each); the lot"),
    "irv tie by lot, level before": (rankings(["d"], ["e", "d"], ["a"], ["d"], ["b", "a"]), vote("irv", options="abcde"), RESIDENTS,
                                     "they were level in every earlier round too; the lot"),
    "irv tie by lot, some level before": (
        rankings(["d"], ["d"], ["e"], ["e", "d"], ["b", "d"], ["b", "e"], ["c"], ["c", "b"], ["c", "a"]),
        vote("irv", options="abcde"), RESIDENTS, "were level in every earlier round too; the lot"),
    "irv tie unresolved in round 1": (rankings(["d"], ["c", "d"], ["e"], ["a"], ["b"]), vote("irv", {"ties": "unresolved"}, "abcde"),
                                      RESIDENTS, "the count stopped at a tie in round 1"),
    "irv tie unresolved, level before": (rankings(["d"], ["e", "d"], ["a"], ["d"], ["b", "a"]),
                                         vote("irv", {"ties": "unresolved"}, "abcde"), RESIDENTS,
                                         "they were level in every earlier round too; the rule does not draw lots"),
    "irv tie unresolved, some level before": (
        rankings(["e", "c"], ["a"], ["c", "e"], ["a", "b"], ["b"], ["d", "b"], ["b"], ["b"], ["c", "a"], ["e", "c"], ["a"], ["e"]),
        vote("irv", {"ties": "unresolved"}, "abcde"), RESIDENTS, "were level in every earlier round too; the rule does not draw lots"),
    "irv nobody ranked": (ballots((2, [])), vote("irv"), RESIDENTS, "Instant runoff: no ballot ranked any option."),
    "irv quorum": (rankings(["a"], ["b", "a"], ["a"]), vote("irv", {"quorum": {"share": "1/4", "basis": "heads"}}), RESIDENTS,
                   "at least 1/4 was required — met"),
    "schulze winner": (ballots((3, ["a", "b", "c"]), (2, ["b", "c", "a"]), (1, ["c"])), vote("schulze"), RESIDENTS, "Schulze order"),
    "schulze tie by lot": (ballots((3, ["a", "b", "c"]), (3, ["b", "c", "a"]), (3, ["c", "a", "b"])), vote("schulze"), RESIDENTS,
                           "are unbeaten in the Schulze order; the lot"),
    "schulze tie unresolved": (ballots((3, ["a", "b", "c"]), (3, ["b", "c", "a"]), (3, ["c", "a", "b"])),
                               vote("schulze", {"ties": "unresolved"}), RESIDENTS, "so it stands"),
    "schulze level below first": (ballots((3, ["a"]), (1, ["b", "c"]), (1, ["c", "b"])), vote("schulze"), RESIDENTS,
                                  "Level in the Schulze order"),
    "schulze nobody ranked": (ballots((2, [])), vote("schulze"), RESIDENTS, "Schulze: no ballot ranked any option."),
}


def recorded_results() -> dict[str, dict[str, Any]]:
    """The results of the recorded histories (tests/histories), as stored: real data of every kind the engine wrote."""
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any, name: str) -> None:
        if isinstance(node, dict):
            if "explanation" in node and "outcome" in node and "counts" in node:
                found.setdefault(name, node)
            for value in node.values():
                walk(value, name)
        elif isinstance(node, list):
            for value in node:
                walk(value, name)

    for path in sorted((ROOT / "tests" / "histories").glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")), f"recorded {path.stem}")
    return found


RECORDED = recorded_results()


def result_of(case: str) -> dict[str, Any]:
    if case in RECORDED:
        return RECORDED[case]
    cast, config, electorate, phrase = CASES[case]
    result = tally(cast, config, electorate)
    assert phrase in " ".join(result["explanation"]), result["explanation"]
    return result


ALL = [*CASES, *RECORDED]


@pytest.fixture(scope="module")
def app() -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "web" / "voting" / "templates"))
    install(app)
    return app


def numbers(text: str) -> list[str]:
    return [n.replace(",", "") for n in NUMBER.findall(text)]


def block(app: Flask, result: dict[str, Any], locale: str, names: dict[str, str]) -> Any:
    """The page's explanation block for ``result``, rendered in ``locale`` as vote.html renders it."""
    with app.test_request_context(), force_locale(locale):
        name = words.namer(names)
        markup = render_template_string(
            '{% from "voting/_explanation.html" import explanation %}{{ explanation(result, sentences, name, drawn) }}',
            result=result, sentences=words.explained(result, name), name=name, drawn=words.lots(result))
    return lxml_html.fromstring(f"<div>{markup}</div>")


def texts(tree: Any, xpath: str) -> list[str]:
    return [" ".join(node.text_content().split()) for node in tree.xpath(xpath)]


def sentences_of(tree: Any) -> list[str]:
    return texts(tree, "//ul[@id='explanation']/li/span[@class='explanation__sentence']")


@pytest.mark.parametrize("case", ALL)
def test_the_english_sentences_carry_the_numbers_of_the_recorded_ones(app: Flask, case: str) -> None:
    result = result_of(case)
    tree = block(app, result, "en", ENGLISH_NAMES)
    said = sentences_of(tree)
    assert len(said) == len(result["explanation"])
    for mine, recorded in zip(said, result["explanation"]):
        assert numbers(mine) == numbers(recorded), (mine, recorded)
        assert mine.split(":")[0] == recorded.split(":")[0]  # Quorum, Count, Threshold, Tie…, Outcome: the same sentence
    assert texts(tree, "//details[@id='as-recorded']/ul[@lang='en']/li") == result["explanation"]


@pytest.mark.parametrize("case", ALL)
def test_the_chinese_explanation_has_no_english_sentence(app: Flask, case: str) -> None:
    result = result_of(case)
    tree = block(app, result, "zh_CN", CHINESE_NAMES)
    explained = " ".join(texts(tree, "//ul[@id='explanation']"))
    assert explained and not LETTERS.search(explained), explained
    said = sentences_of(tree)
    assert len(said) == len(result["explanation"])
    assert all(sentence.endswith("。") for sentence in said), said
    assert said[0].startswith("法定人数：") and said[-1].startswith("结果：")
    assert texts(tree, "//details[@id='as-recorded']/ul[@lang='en']/li") == result["explanation"]  # kept, word for word
    assert texts(tree, "//details[@id='as-recorded']/summary") == ["计票程序记录的原始说明（英文）"]


def test_random_profiles_of_every_method_and_rule_say_the_same_numbers_and_chinese_throughout(app: Flask) -> None:
    rng, checked = random.Random(2026), 0
    while checked < 300:
        method = rng.choice(["yes_no_abstain", "plurality", "approval", "irv", "schulze"])
        owners = rng.random() < 0.4
        options = "abcd"[: rng.randint(2, 4)]
        rule: Any = {}
        if rng.random() < 0.5:
            rule["quorum"] = {"share": rng.choice(["1/2", "2/3", "1/3"]), "strict": rng.random() < 0.5,
                              "basis": rng.choice(["heads", "weight", "both"] if owners else ["heads"]),
                              "abstentions_count": rng.random() < 0.5}
        if method in ("yes_no_abstain", "plurality", "approval") and rng.random() < 0.6:
            rule["threshold"] = {"kind": rng.choice(["simple_majority", "majority_of_eligible", "two_thirds", "three_quarters"]),
                                 "basis": rng.choice(["heads", "weight", "both"] if owners else ["heads"]),
                                 "abstentions_in_base": rng.random() < 0.5}
        if method != "yes_no_abstain":
            rule["ties"] = rng.choice(["lot", "unresolved"])
        if owners and method == "yes_no_abstain" and rng.random() < 0.4:
            rule = rng.choice(["civil_code_278", "civil_code_278_major"])
        eligible = rng.randint(1, 10)

        def choice() -> Any:
            if method == "yes_no_abstain":
                return rng.choice(["yes", "no", "abstain"])
            if method == "plurality":
                return rng.choice([*options, "abstain"])
            return rng.sample(list(options), rng.randint(0, len(options)))

        cast = [{"choice": choice(), **({"weight": rng.choice(["50", "64.5", "150.25"])} if owners else {})}
                for _ in range(rng.randint(0, eligible))]
        electorate = {**OWNERS, "heads": eligible, "weight": str(200 * eligible)} if owners else {"heads": eligible}
        try:
            result = tally(cast, vote(method, rule, options), electorate)
        except InvalidInput:
            continue
        english = sentences_of(block(app, result, "en", ENGLISH_NAMES))
        assert [numbers(s) for s in english] == [numbers(s) for s in result["explanation"]], (english, result["explanation"])
        chinese = " ".join(texts(block(app, result, "zh_CN", CHINESE_NAMES), "//ul[@id='explanation']"))
        assert not LETTERS.search(chinese), chinese
        checked += 1


def test_numbers_and_percentages_follow_the_locale(app: Flask) -> None:
    result = result_of("art. 278 decimal area")
    english = sentences_of(block(app, result, "en", ENGLISH_NAMES))
    assert english[0] == result["explanation"][0] == (
        "Quorum: 3 of 4 eligible owners (75%) and 36,929.25 of 55,000.5 m² (67.1%) took part; "
        "at least 2/3 of each was required — met.")
    chinese = sentences_of(block(app, result, "zh_CN", CHINESE_NAMES))
    assert chinese == [
        "法定人数：4名有投票权的业主中的3名（75%），以及总计55,000.5平方米中的36,929.25（67.1%）参与了表决；要求每项均至少三分之二——已达到。",
        "计票：同意 2票（36,865平方米）；反对 1票（64.25平方米）；弃权 0票（0平方米）。",
        "通过比例：同意获得所投3张选票（含弃权）中的2张（66.7%），以及总计36,929.25平方米中的36,865（99.8%）；要求每项均超过二分之一——已达到。",
        "结果：通过。",
    ]
    invalid = sentences_of(block(app, result_of("art. 278 invalid"), "zh_CN", CHINESE_NAMES))
    assert invalid[-1] == "结果：无效——未达到法定人数，本次表决不决定任何事项。"


def test_the_two_majorities_of_article_278_are_each_said(app: Flask) -> None:
    chinese = sentences_of(block(app, result_of("art. 278 rejected by owners"), "zh_CN", CHINESE_NAMES))
    assert chinese[2] == ("通过比例：同意获得所投8张选票（含弃权）中的3张（37.5%），以及总计700平方米中的450（64.3%）；"
                          "要求每项均超过二分之一——未达到。")
    assert chinese[3] == "结果：未通过——未达到按业主人数计算的多数。"
    area = sentences_of(block(app, result_of("art. 278 rejected by m²"), "zh_CN", CHINESE_NAMES))
    assert area[-1] == "结果：未通过——未达到按专有面积计算的多数。"
    both = sentences_of(block(app, result_of("art. 278 rejected by area"), "zh_CN", CHINESE_NAMES))
    assert both[-1] == "结果：未通过——按业主人数和按专有面积计算的多数均未达到。"
    level = sentences_of(block(app, result_of("art. 278 tie on both"), "zh_CN", CHINESE_NAMES))
    assert "平局：同意与反对各得4票，以及400平方米；同意／反对表决从不抽签决定。" in level


def test_instant_runoff_rounds_are_listed_one_by_one(app: Flask) -> None:
    result = result_of("irv rounds")
    tree = block(app, result, "zh_CN", CHINESE_NAMES)
    assert sentences_of(tree)[1] == "即时决选：共3轮；依次淘汰：停车位、花园；第3轮中，自行车棚获得仍有效的8张选票中的5张。"
    rounds = texts(tree, "//ul[@id='explanation']/li[2]/ul[@class='explanation__details']/li")
    assert rounds == [
        "第1轮：小公园 3票、自行车棚 3票、停车位 2票、花园 2票（仍有效选票10张，已无后续偏好的选票0张）；淘汰：停车位。",
        "第2轮：小公园 3票、自行车棚 5票、花园 2票（仍有效选票10张，已无后续偏好的选票0张）；淘汰：花园。",
        "第3轮：小公园 3票、自行车棚 5票（仍有效选票8张，已无后续偏好的选票2张）；当选：自行车棚。",
    ]
    english = block(app, result, "en", ENGLISH_NAMES)
    lines = texts(english, "//ul[@id='explanation']/li[2]/ul/li")
    assert [line.split(":")[0] for line in lines] == [f"Round {r['round']}" for r in result["rounds"]]
    for line, record in zip(lines, result["rounds"]):
        assert numbers(line) == [str(record["round"]), *map(str, record["counts"].values()), str(record["continuing"]),
                                 str(record["exhausted"])]


@pytest.mark.parametrize("case, phrase", [
    ("irv tie settled by an earlier round", "轮票数更少，被淘汰。"),
    ("irv tie by lot in round 1", "抽签（以表决种子和各选项编号算出的哈希值为签号，签号最小者优先）把"),
    ("irv tie by lot, level before", "它们在之前各轮也都票数相同；抽签"),
    ("irv tie by lot, some level before", "在之前各轮也都票数相同；抽签"),
    ("irv tie unresolved in round 1", "规则不以抽签决定，因此计票停止，结果为平局。"),
    ("irv tie unresolved, level before", "它们在之前各轮也都票数相同；规则不以抽签决定"),
    ("irv tie unresolved, some level before", "在之前各轮也都票数相同；规则不以抽签决定"),
    ("plurality tie by lot", "并列第一：小公园和自行车棚各得3票；抽签"),
    ("plurality tie unresolved", "并列第一：小公园和自行车棚各得3票；规则不以抽签决定，平局成立。"),
    ("plurality by area, tie", "各得100平方米"),
    ("schulze tie by lot", "在舒尔茨排序中均未被击败；抽签"),
    ("schulze tie unresolved", "在舒尔茨排序中均未被击败；规则不以抽签决定，平局成立。"),
    ("schulze level below first", "舒尔茨排序中并列：自行车棚和停车位；抽签把它们依次列为"),
    ("yes_no tie", "平局：同意与反对各得4票；同意／反对表决从不抽签决定。"),
])
def test_every_tie_is_explained_with_how_it_was_settled(app: Flask, case: str, phrase: str) -> None:
    result = result_of(case)
    tree = block(app, result, "zh_CN", CHINESE_NAMES)
    said = sentences_of(tree)
    assert any(phrase in sentence for sentence in said), said
    for tie in result["ties"]:
        lot = tie.get("lot")
        if lot:  # the lot's order in words, and its seed and tickets with the recorded sentences
            order = "、".join(CHINESE_NAMES[o] for o in lot["order"])
            assert f"抽签顺序（最优先者在前）：{order}。" in texts(tree, "//ul[@class='explanation__details']/li")
            assert lot["seed"] in " ".join(texts(tree, "//details[@id='as-recorded']/p"))
            assert set(lot["tickets"].values()) <= set(texts(tree, "//details[@id='as-recorded']//ul[contains(@class, 'lot')]//code"))
    if result["outcome"] == "tie" and result["method"] != "yes_no_abstain":
        assert said[-1].startswith("结果：平局——") and said[-1].endswith("票数相同，规则不以抽签决定。")


def test_a_lot_publishes_every_ticket_for_auditors(app: Flask) -> None:
    result = result_of("plurality tie by lot")
    tree = block(app, result, "en", ENGLISH_NAMES)
    (lot,) = words.lots(result)
    assert texts(tree, "//details[@id='as-recorded']//ul[contains(@class, 'lot')]/li") == [
        f"{ENGLISH_NAMES[option]}: {ticket}" for option, ticket in lot["tickets"].items()]
    order = ", ".join(ENGLISH_NAMES[o] for o in lot["order"])
    assert f"The lot's order, most favoured first: {order}." in texts(tree, "//ul[@class='explanation__details']/li")
    assert f"chose {ENGLISH_NAMES[lot['order'][0]]}." in " ".join(sentences_of(tree))


def test_a_result_the_page_cannot_read_shows_the_recorded_sentences_never_a_500(app: Flask) -> None:
    broken = {**result_of("yes_no simple majority"), "counts": {"cast": "?"}}
    tree = block(app, broken, "en", ENGLISH_NAMES)
    assert sentences_of(tree) == broken["explanation"]


# ---- a real vote's page, on both backends ------------------------------------------------------

OPTIONS_ZH = [{"id": "park", "label": "小公园"}, {"id": "bikes", "label": "自行车棚"}, {"id": "parking", "label": "停车位"}]


def closed_vote(engine: Engine, community: Community, clock: ManualClock, choices: dict[str, Any],
                **config: Any) -> tuple[str, Pages, Pages]:
    """A vote cast and closed by its deadline; a resident's browser in Chinese and one in English (signed in before
    the clock moves past the deadline)."""
    instance_id, vote_id = open_vote(engine, community, **config)
    for who, choice in choices.items():
        engine.execute(CastBallot(vote_id, choice), community[who])
    chinese, english = pages_for(engine, community, "alice", "zh_CN"), pages_for(engine, community, "bob")
    close_by_deadline(engine, clock, instance_id)
    return vote_id, chinese, english


def recorded(engine: Engine, vote_id: str) -> dict[str, Any]:
    with engine.read() as session:
        result = session.get(Vote, vote_id).result
    assert result is not None
    return result


@pytest.mark.both_backends
def test_the_chinese_result_page_explains_the_quorum_and_threshold_in_chinese(
        deployed: Engine, neighbours: Community, clock: ManualClock) -> None:
    vote_id, chinese, english_browser = closed_vote(deployed, neighbours, clock, {"alice": "yes", "bob": "yes", "carol": "no"},
                                                    rule={"quorum": {"share": "2/3"}})
    page = chinese.get(f"/votes/{vote_id}")
    assert page.status == 200
    said = page.texts("//ul[@id='explanation']/li/span")
    assert said == ["法定人数：4名有投票权的居民中的3名（75%）参与了表决；要求至少三分之二——已达到。",
                    "计票：同意 2票；反对 1票；弃权 0票。",
                    "通过比例：同意获得3张同意票和反对票中的2张（66.7%）；要求超过二分之一——已达到。",
                    "结果：通过。"]
    assert not LETTERS.search(" ".join(page.texts("//ul[@id='explanation']")))
    result = recorded(deployed, vote_id)
    assert page.texts("//details[@id='as-recorded']/ul/li") == result["explanation"]
    assert result["explanation"][0] == "Quorum: 3 of 4 eligible residents (75%) took part; at least 2/3 was required — met."

    english = english_browser.get(f"/votes/{vote_id}")
    sentences = english.texts("//ul[@id='explanation']/li/span")
    assert [numbers(s) for s in sentences] == [numbers(s) for s in result["explanation"]]
    assert sentences[0] == result["explanation"][0]


def test_the_chinese_result_page_explains_a_lot_and_every_runoff_round(
        deployed: Engine, neighbours: Community, clock: ManualClock) -> None:
    vote_id, chinese, english_browser = closed_vote(
        deployed, neighbours, clock,
        {"alice": ["park", "bikes"], "bob": ["bikes", "park"], "carol": ["parking", "bikes"], "chair": ["park"]},
        method="irv", options=OPTIONS_ZH)
    result = recorded(deployed, vote_id)
    assert result["ties"][0]["kind"] == "elimination" and result["ties"][0]["resolved_by"] == "lot"
    page = chinese.get(f"/votes/{vote_id}")
    assert page.status == 200
    block_text = " ".join(page.texts("//ul[@id='explanation']"))
    assert not LETTERS.search(block_text), block_text
    rounds = page.texts("//ul[@id='explanation']/li[2]/ul/li")
    assert len(rounds) == len(result["rounds"]) and rounds[0].startswith("第1轮：小公园 2票、自行车棚 1票、停车位 1票")
    assert any(s.startswith("淘汰平局：自行车棚和停车位在第1轮票数最少（各1票）；抽签") for s in page.texts("//ul[@id='explanation']/li/span"))
    assert any(line.startswith("抽签顺序（最优先者在前）：") for line in page.texts("//ul[@class='explanation__details']/li"))
    seed = result["ties"][0]["lot"]["seed"]
    assert seed in " ".join(page.texts("//details[@id='as-recorded']/p"))
    english = english_browser.get(f"/votes/{vote_id}")
    assert [numbers(s) for s in english.texts("//ul[@id='explanation']/li/span")] == [numbers(s) for s in result["explanation"]]
