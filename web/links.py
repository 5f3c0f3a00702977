"""Where each kind of agenda item and notification is acted on, and what the header's menu lists: every page area
registers the pages for its kinds (``links_to``) and its menu entries (``menu_entry``).

The engine says what needs a member (``engine.kernel.agenda``); only the web knows which page does it.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class MenuEntry:
    """One link of the header's menu: the endpoint, its label (a lazy translation), its place (lower first), the
    roles that see it (any member when empty), and a count shown beside it (unread notifications), if any."""

    endpoint: str
    label: Any
    order: int
    roles: frozenset[str] = frozenset()
    count: Callable[[Any], int] | None = None


MENU: list[MenuEntry] = []


def menu_entry(endpoint: str, label: Any, order: int, roles: tuple[str, ...] = (),
               count: Callable[[Any], int] | None = None) -> None:
    """Add a link to the header's menu for signed-in members (of ``roles``, when given)."""
    MENU.append(MenuEntry(endpoint, label, order, frozenset(roles), count))
    MENU.sort(key=lambda entry: entry.order)


def menu_for(actor: Any) -> list[tuple[MenuEntry, int | None]]:
    """The menu a signed-in member sees, each entry with its count (None where it has none)."""
    roles = set(actor.roles)
    return [(entry, entry.count(actor) if entry.count else None)
            for entry in MENU if not entry.roles or entry.roles & roles]


__all__ = ["LABELS", "LINKS", "MENU", "kind_label", "link_for", "links_to", "menu_entry", "menu_for"]
