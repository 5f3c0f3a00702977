"""Convention texts (公约文本): articles with stable ids, their fingerprint, and what changed between two.

Pure functions over plain JSON values, so that the engine, the API and anyone checking a
published text offline compute the same thing. A text is a title and a list of articles, each
``{"id": "a3", "text": "…"}``; an article keeps its id through every version, so a diff can say
that article a3 moved or changed rather than guessing from the wording.

Changed wording is compared token by token: a Chinese, Japanese or Korean character is a token
of its own (Chinese has no spaces between words, so characters are the finest unit that still
reads well), and elsewhere a run of letters or digits, a run of whitespace, or one punctuation
mark is a token. English therefore diffs by word and Chinese by character, in the same article.
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_left
from difflib import SequenceMatcher
from typing import Any, NamedTuple, TypedDict


class Article(TypedDict):
    id: str
    text: str


_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+|\s+|.", re.DOTALL)


def tokens(text: str) -> list[str]:
    """The units a changed article is compared in; joined, they give the text back exactly."""
    return _TOKEN.findall(text)


def canonical(value: Any) -> str:
    """The one byte-exact JSON rendering a fingerprint is taken of: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(title: str, articles: list[Article]) -> str:
    """sha256 of the text's canonical JSON ``{"articles": [...], "title": ...}``, so anyone can recompute it."""
    return hashlib.sha256(canonical({"title": title, "articles": articles}).encode("utf-8")).hexdigest()


def text_changes(old: str, new: str) -> list[dict[str, str]]:
    """``[{"op": "equal" | "delete" | "insert", "text": …}]``: the equal and deleted parts spell ``old``,
    the equal and inserted parts spell ``new``."""
    before, after = tokens(old), tokens(new)
    regions: list[_Region] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        regions.append(_Region(tag != "equal", "".join(before[i1:i2]), "".join(after[j1:j2])))
    return [op for region in _fold_lone_spaces(regions) for op in region.ops()]


class _Region(NamedTuple):
    changed: bool
    old: str
    new: str

    def ops(self) -> list[dict[str, str]]:
        if not self.changed:
            return [{"op": "equal", "text": self.old}]
        return [{"op": op, "text": text} for op, text in (("delete", self.old), ("insert", self.new)) if text]


def _fold_lone_spaces(regions: list[_Region]) -> list[_Region]:
    """Join two changes separated only by whitespace: "delete 'ten' · ' ' · delete 'pm'" reads as one change."""
    folded: list[_Region] = []
    for region in regions:
        if region.changed and len(folded) >= 2 and folded[-2].changed and not folded[-1].changed and folded[-1].old.isspace():
            space = folded.pop().old
            earlier = folded.pop()
            region = _Region(True, earlier.old + space + region.old, earlier.new + space + region.new)
        folded.append(region)
    return folded


def compare(old_title: str, old: list[Article], new_title: str, new: list[Article]) -> dict[str, Any]:
    """The structured diff between two texts: the title, then one entry per article, and a summary.

    Entries follow the new order, with each removed article shown where it stood (after the
    article that preceded it). Every entry has a ``status`` — ``added``, ``removed``, ``changed``
    or ``unchanged`` — and ``moved``, true when the article left its place in the order relative
    to the others (the fewest such moves that explain the new order). ``changes`` renders the
    article as ops, token by token for a changed article.
    """
    old_by_id = {article["id"]: (position, article) for position, article in enumerate(old, 1)}
    new_ids = {article["id"] for article in new}
    kept = [article["id"] for article in new if article["id"] in old_by_id]
    in_place = _longest_in_order(kept, [old_by_id[article_id][0] for article_id in kept])
    removed_after = _removed_by_anchor(old, new_ids)
    entries = [_removed(old_by_id[i][0], old_by_id[i][1]) for i in removed_after.get(None, [])]
    for position, article in enumerate(new, 1):
        before = old_by_id.get(article["id"])
        entries.append(_entry(before, position, article, moved=before is not None and article["id"] not in in_place))
        entries.extend(_removed(old_by_id[i][0], old_by_id[i][1]) for i in removed_after.get(article["id"], []))
    return {
        "title": {"old": old_title, "new": new_title, "changes": text_changes(old_title, new_title)},
        "articles": entries,
        "summary": _summary(entries),
    }


def _entry(before: tuple[int, Article] | None, position: int, article: Article, *, moved: bool) -> dict[str, Any]:
    if before is None:
        return _row(article["id"], "added", None, position, None, article["text"], [{"op": "insert", "text": article["text"]}])
    old_position, old_article = before
    if old_article["text"] == article["text"]:
        status, changes = "unchanged", [{"op": "equal", "text": article["text"]}]
    else:
        status, changes = "changed", text_changes(old_article["text"], article["text"])
    return _row(article["id"], status, old_position, position, old_article["text"], article["text"], changes, moved)


def _removed(old_position: int, article: Article) -> dict[str, Any]:
    return _row(article["id"], "removed", old_position, None, article["text"], None, [{"op": "delete", "text": article["text"]}])


def _row(article_id: str, status: str, old_position: int | None, new_position: int | None, old_text: str | None,
         new_text: str | None, changes: list[dict[str, str]], moved: bool = False) -> dict[str, Any]:
    return {"id": article_id, "status": status, "moved": moved, "old_position": old_position, "new_position": new_position,
            "old_text": old_text, "new_text": new_text, "changes": changes}


def _removed_by_anchor(old: list[Article], new_ids: set[str]) -> dict[str | None, list[str]]:
    """Removed articles grouped by the nearest earlier article that survives (None: the start)."""
    anchor: str | None = None
    grouped: dict[str | None, list[str]] = {}
    for article in old:
        if article["id"] in new_ids:
            anchor = article["id"]
        else:
            grouped.setdefault(anchor, []).append(article["id"])
    return grouped


def _longest_in_order(ids: list[str], old_positions: list[int]) -> set[str]:
    """The ids of a longest run (not necessarily contiguous) whose old positions still increase.

    Those articles kept their relative order; every other kept article moved. Patience sorting,
    O(n log n); among equally long runs it always picks the same one, so the diff is deterministic.
    """
    tail_values: list[int] = []
    tail_indexes: list[int] = []
    previous: list[int] = [-1] * len(ids)
    for index, value in enumerate(old_positions):
        length = bisect_left(tail_values, value)
        previous[index] = tail_indexes[length - 1] if length else -1
        if length == len(tail_values):
            tail_values.append(value)
            tail_indexes.append(index)
        else:
            tail_values[length], tail_indexes[length] = value, index
    in_order: set[str] = set()
    index = tail_indexes[-1] if tail_indexes else -1
    while index != -1:
        in_order.add(ids[index])
        index = previous[index]
    return in_order


def _summary(entries: list[dict[str, Any]]) -> dict[str, int]:
    """How many articles were added, removed, changed, moved; ``unchanged`` counts those neither changed nor moved."""
    counts = {"added": 0, "removed": 0, "changed": 0, "moved": 0, "unchanged": 0}
    for entry in entries:
        counts["moved"] += entry["moved"]
        if not (entry["status"] == "unchanged" and entry["moved"]):
            counts[entry["status"]] += 1
    return counts
