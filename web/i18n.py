"""Locales and time zones: Chinese first, English second, and every moment in the community's own time.

Flask-Babel reads the catalogues of every area (``web/translations`` and ``web/<area>/translations``; the JSON API's
error messages come from the same ones, ``api/translations``), compiled by ``scripts/setup``. A page's locale is the
visitor's choice (the switch on every page, kept in a cookie), else the site's (``YISHI_LOCALE``, Chinese); the
JSON API follows ``Accept-Language`` and answers in English when none is asked for. Moments are shown in the
signed-in member's community time zone, else the site's.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from babel import Locale
from babel.dates import format_skeleton
from flask import Flask, current_app, g, request
from flask_babel import Babel, get_locale, get_timezone, gettext
from werkzeug.datastructures import LanguageAccept

LOCALES = ("zh_CN", "en")
"""The languages Yishi speaks, the first the default for pages. English is the source language; the Chinese
catalogues are filed under Babel's full name for ``zh_CN``, ``zh_Hans_CN`` (see ``scripts/translations``)."""
LOCALE_COOKIE = "yishi_locale"
SITE_TIMEZONE = "Asia/Shanghai"
ROOT = Path(__file__).resolve().parent.parent


def translation_directories() -> list[str]:
    """Every area's catalogue directory: the site's, each page area's, and the API's."""
    found = sorted(str(path) for path in ROOT.glob("web/**/translations") if path.is_dir())
    api = ROOT / "api" / "translations"
    return found + ([str(api)] if api.is_dir() else [])


def select_locale() -> Locale:
    if "site" not in request.blueprints:
        return Locale.parse(api_language(), sep="-")
    chosen = request.cookies.get(LOCALE_COOKIE)
    return Locale.parse(chosen if chosen in LOCALES else current_app.config.get("YISHI_LOCALE", LOCALES[0]))


def api_language() -> str:
    """The language the API answers in: the best of ``LOCALES`` the caller named, English for anything else — a
    wildcard too (werkzeug would match ``*`` with the first locale offered, Chinese)."""
    named = LanguageAccept([(value, quality) for value, quality in request.accept_languages if value != "*"])
    return named.best_match([code.replace("_", "-") for code in LOCALES], default="en")


def select_timezone() -> str:
    return g.get("timezone") or SITE_TIMEZONE


def moment(value: datetime | None) -> str:
    """A moment as people of the page's locale write it, in the page's time zone (``2026年12月3日周四 22:13``)."""
    if value is None:
        return ""
    return f"{day(value)} {format_skeleton('Hm', value, tzinfo=get_timezone(), locale=get_locale())}"


def day(value: datetime | None) -> str:
    """A day with its weekday (``2026年12月3日周四``, ``Thu, Dec 3, 2026``)."""
    if value is None:
        return ""
    return format_skeleton("yMMMEd", value, tzinfo=get_timezone(), locale=get_locale())


def translated(message: str) -> str:
    """An engine message in the page's language, where a catalogue has it (the engine speaks English)."""
    return gettext(message)


def current_locale() -> str:
    """The page's locale as one of ``LOCALES`` (Babel reads ``zh_CN`` as ``zh_Hans_CN``)."""
    locale = get_locale()
    return "zh_CN" if locale is not None and locale.language == "zh" else "en"


def html_lang(code: str | None = None) -> str:
    """A locale as HTML's ``lang`` writes it (``zh-CN``)."""
    return (code or current_locale()).replace("_", "-")


def locale_name(code: str) -> str:
    """A locale's name in its own language, as a switch shows it (中文, English)."""
    return Locale.parse(code).language_name.capitalize() if code != "zh_CN" else "中文"


def install(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", ";".join(translation_directories()))
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", SITE_TIMEZONE)
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters["moment"] = moment
    app.jinja_env.filters["day"] = day
    app.jinja_env.globals["locale_name"] = locale_name
    app.jinja_env.globals["LOCALES"] = LOCALES
    app.jinja_env.globals["current_locale"] = current_locale
    app.jinja_env.globals["html_lang"] = html_lang
