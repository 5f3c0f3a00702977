"""A resident's browser, without the browser: Flask's test client on the web pages, with the page's CSRF token.

``Pages.sign_in(code)`` exchanges a sign-in code for the session cookie as a browser would; ``get`` keeps the page it
read, and ``post`` sends a form with the CSRF token of that page (``csrf=False`` to send none, as a forger would).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import html as lxml_html

from api import create_app
from engine.bootstrap import Engine
from web.account.routes import reset_attempts


@dataclass
class Page:
    status: int
    text: str
    location: str | None
    headers: Any

    @property
    def tree(self) -> Any:
        return lxml_html.fromstring(self.text)

    def texts(self, xpath: str) -> list[str]:
        """The whitespace-normalised text of each element the XPath finds."""
        return [" ".join(node.text_content().split()) for node in self.tree.xpath(xpath)]

    def field_errors(self) -> dict[str, list[str]]:
        """Each field's error messages, keyed by the id of the input they describe."""
        found: dict[str, list[str]] = {}
        for node in self.tree.xpath("//p[@class='field-error']"):
            found.setdefault(node.get("id").removesuffix("-error"), []).append(" ".join(node.text_content().split()).removeprefix("Error: ").removeprefix("错误： ").removeprefix("错误："))
        return found

    @property
    def csrf(self) -> str | None:
        tokens = self.tree.xpath("//input[@name='csrf_token']/@value")
        return tokens[0] if tokens else None


@dataclass
class Pages:
    engine: Engine
    locale: str = "en"
    app: Any = None
    client: Any = None
    last: Page | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.app = self.app or create_app({"TESTING": True, "YISHI_LOCALE": self.locale, **self.config}, engine=self.engine)
        self.client = self.app.test_client()
        reset_attempts()

    def get(self, url: str, **kwargs: Any) -> Page:
        self.last = self._page(self.client.get(url, **kwargs))
        return self.last

    def post(self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True, from_page: str | None = None, **kwargs: Any) -> Page:
        """Send a form, as its page would: with that page's CSRF token (read ``from_page`` first, else the last page)."""
        form = dict(data or {})
        if csrf:
            source = self.get(from_page) if from_page else self.last or self.get("/")
            form.setdefault("csrf_token", source.csrf)
        return self._page(self.client.post(url, data=form, **kwargs))

    def sign_in(self, code: str) -> Page:
        self.get("/sign-in")
        return self.post("/sign-in", {"code": code})

    def _page(self, response: Any) -> Page:
        return Page(response.status_code, response.get_data(as_text=True), response.headers.get("Location"), response.headers)


def pages_for(engine: Engine, community: Any, name: str, locale: str = "en") -> Pages:
    """A browser signed in as ``name`` of ``community`` (made with sign-in codes)."""
    browser = Pages(engine, locale)
    assert browser.sign_in(community.codes[name]).status == 302
    return browser
