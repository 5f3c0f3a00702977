"""Where each kind of agenda item and notification is acted on: every page area registers the pages for its kinds.

The engine says what needs a member (``engine.kernel.agenda``); only the web knows which page does it.
"""

from __future__ import annotations

from typing import Any, Callable

Link = Callable[[Any], str]
LINKS: dict[str, Link] = {}
LABELS: dict[str, Any] = {}


def links_to(kinds: dict[str, Any]) -> Callable[[Link], Link]:
    """Register the decorated function as the page for items of each kind in ``kinds`` (kind → its label, a lazy
    translation); the function gets the item and returns a URL."""
    def register(link: Link) -> Link:
        for kind, label in kinds.items():
            LINKS[kind] = link
            LABELS[kind] = label
        return link
    return register


def kind_label(kind: str) -> str:
    return str(LABELS.get(kind, kind.replace("_", " ")))


def link_for(item: Any) -> str | None:
    """The page for an item, or None where no page acts on its kind yet."""
    link = LINKS.get(item.kind)
    return link(item) if link is not None else None


__all__ = ["LABELS", "LINKS", "kind_label", "link_for", "links_to"]
