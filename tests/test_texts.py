"""Convention texts: tokens, fingerprints and diffs — Chinese by character, English by word, articles by id."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.conventions.texts import Article, compare, fingerprint, text_changes, tokens


def rendered(ops: list[dict[str, str]]) -> str:
    """The ops in git's word-diff notation, which reads well in an assertion."""
    marks = {"equal": "{}", "delete": "[-{}-]", "insert": "{{+{}+}}"}
    return "".join(marks[op["op"]].format(op["text"]) for op in ops)


def articles(*pairs: tuple[str, str]) -> list[Article]:
    return [{"id": article_id, "text": text} for article_id, text in pairs]


def by_id(diff: dict) -> dict[str, dict]:
    return {entry["id"]: entry for entry in diff["articles"]}


# -- tokens ----------------------------------------------------------------------------------------


def test_chinese_characters_are_tokens_of_their_own_and_latin_words_stay_whole() -> None:
    assert tokens("晚上10点后，请勿在楼道里 make noise!") == [
        "晚", "上", "10", "点", "后", "，", "请", "勿", "在", "楼", "道", "里", " ", "make", " ", "noise", "!"]
    assert tokens("Keep  the café's stairs clear.") == ["Keep", "  ", "the", " ", "café", "'", "s", " ", "stairs", " ", "clear", "."]


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_tokens_give_the_text_back(text: str) -> None:
    assert "".join(tokens(text)) == text


# -- changed wording -------------------------------------------------------------------------------


def test_chinese_diffs_character_by_character() -> None:
    assert rendered(text_changes("晚上十点后不得大声喧哗。", "晚上十一点后禁止喧哗。")) == "晚上十{+一+}点后[-不得大声-]{+禁止+}喧哗。"


def test_english_diffs_word_by_word_never_inside_a_word() -> None:
    assert rendered(text_changes("No loud music after ten pm.", "No music or parties after eleven at night.")) == (
        "No[- loud-] music {+or parties +}after [-ten pm-]{+eleven at night+}.")


def test_a_mixed_article_diffs_each_script_its_own_way() -> None:
    assert rendered(text_changes("宠物狗 must be on a leash 出门时。", "宠物猫 must be on a harness 出门时。")) == (
        "宠物[-狗-]{+猫+} must be on a [-leash-]{+harness+} 出门时。")


def test_changes_separated_by_a_single_space_read_as_one_change() -> None:
    assert rendered(text_changes("after ten pm", "after eleven at night")) == "after [-ten pm-]{+eleven at night+}"


def test_identical_and_empty_texts() -> None:
    assert text_changes("同一条。", "同一条。") == [{"op": "equal", "text": "同一条。"}]
    assert text_changes("", "新条款") == [{"op": "insert", "text": "新条款"}]
    assert text_changes("旧条款", "") == [{"op": "delete", "text": "旧条款"}]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ab 十点后。,"), st.text(alphabet="ab 十点后。,"))
def test_the_ops_spell_both_texts(old: str, new: str) -> None:
    ops = text_changes(old, new)
    assert "".join(op["text"] for op in ops if op["op"] != "insert") == old
    assert "".join(op["text"] for op in ops if op["op"] != "delete") == new
    assert all(op["text"] for op in ops)


# -- articles --------------------------------------------------------------------------------------


OLD = articles(("a1", "晚上十点后不得大声喧哗。"), ("a2", "Keep the stairwells clear."), ("a3", "宠物狗出门须拴绳。"),
               ("a4", "垃圾分类投放。"))


def test_added_removed_changed_and_unchanged_articles() -> None:
    new = articles(("a1", "晚上十一点后禁止喧哗。"), ("a2", "Keep the stairwells clear."), ("a5", "Bicycles go in the shed."),
                   ("a4", "垃圾分类投放。"))
    diff = compare("邻里公约", OLD, "邻里公约", new)
    assert [(e["id"], e["status"], e["moved"], e["old_position"], e["new_position"]) for e in diff["articles"]] == [
        ("a1", "changed", False, 1, 1),
        ("a2", "unchanged", False, 2, 2),
        ("a3", "removed", False, 3, None),  # shown where it stood
        ("a5", "added", False, None, 3),
        ("a4", "unchanged", False, 4, 4),
    ]
    entries = by_id(diff)
    assert rendered(entries["a1"]["changes"]) == "晚上十{+一+}点后[-不得大声-]{+禁止+}喧哗。"
    assert entries["a3"]["changes"] == [{"op": "delete", "text": "宠物狗出门须拴绳。"}]
    assert entries["a5"]["changes"] == [{"op": "insert", "text": "Bicycles go in the shed."}]
    assert diff["summary"] == {"added": 1, "removed": 1, "changed": 1, "moved": 0, "unchanged": 2}
    assert diff["title"]["changes"] == [{"op": "equal", "text": "邻里公约"}]


def test_a_moved_article_is_the_only_one_marked_moved() -> None:
    new = [OLD[3], OLD[0], OLD[1], OLD[2]]  # the last article moved to the front
    diff = compare("T", OLD, "T", new)
    assert [(e["id"], e["status"], e["moved"]) for e in diff["articles"]] == [
        ("a4", "unchanged", True), ("a1", "unchanged", False), ("a2", "unchanged", False), ("a3", "unchanged", False)]
    assert diff["summary"] == {"added": 0, "removed": 0, "changed": 0, "moved": 1, "unchanged": 3}


def test_an_insertion_at_the_start_moves_nothing() -> None:
    new = articles(("a9", "第一条：总则。")) + OLD
    diff = compare("T", OLD, "T", new)
    assert [(e["id"], e["status"], e["moved"], e["new_position"]) for e in diff["articles"]][:2] == [
        ("a9", "added", False, 1), ("a1", "unchanged", False, 2)]
    assert diff["summary"] == {"added": 1, "removed": 0, "changed": 0, "moved": 0, "unchanged": 4}


def test_an_article_both_moved_and_changed_counts_as_both() -> None:
    new = [OLD[0], OLD[1], {"id": "a4", "text": "垃圾须分类投放。"}, OLD[2]]
    diff = compare("T", OLD, "T", new)
    a4, a3 = by_id(diff)["a4"], by_id(diff)["a3"]
    assert (a4["status"], a3["status"]) == ("changed", "unchanged")
    assert [a4["moved"], a3["moved"]].count(True) == 1  # one of the two swapped articles moved
    assert diff["summary"]["changed"] == 1 and diff["summary"]["moved"] == 1


def test_removed_articles_at_the_start_and_the_title() -> None:
    new = OLD[2:]
    diff = compare("邻里公约", OLD, "邻里公约（修订）", new)
    assert [(e["id"], e["status"]) for e in diff["articles"]] == [
        ("a1", "removed"), ("a2", "removed"), ("a3", "unchanged"), ("a4", "unchanged")]
    assert rendered(diff["title"]["changes"]) == "邻里公约{+（修订）+}"


# -- fingerprints ----------------------------------------------------------------------------------


def test_the_fingerprint_is_the_sha256_of_the_canonical_json_anyone_can_rebuild() -> None:
    text = articles(("a1", "晚上十点后不得大声喧哗。"))
    canonical = '{"articles":[{"id":"a1","text":"晚上十点后不得大声喧哗。"}],"title":"邻里公约"}'
    assert fingerprint("邻里公约", text) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert fingerprint("邻里公约", [{"text": "晚上十点后不得大声喧哗。", "id": "a1"}]) == fingerprint("邻里公约", text)
    assert fingerprint("邻里公约", OLD) != fingerprint("邻里公约", [OLD[1], OLD[0], *OLD[2:]])  # order is part of the text
