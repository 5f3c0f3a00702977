"""Every message the pages and the API show has its Chinese translation, with the same placeholders."""

from __future__ import annotations

import importlib.util
from importlib.machinery import SourceFileLoader
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_loader("translations", SourceFileLoader("translations", str(ROOT / "scripts" / "translations")))
assert spec is not None and spec.loader is not None
translations = importlib.util.module_from_spec(spec)
spec.loader.exec_module(translations)  # type: ignore[union-attr]


def test_every_message_is_translated() -> None:
    assert translations.problems() == []


def test_a_message_without_translation_is_named(tmp_path: Path, monkeypatch) -> None:
    area = tmp_path / "web" / "demo"
    (area / "templates").mkdir(parents=True)
    (area / "translations").mkdir()
    (area / "templates" / "page.html").write_text('{{ _("Hello %(name)s", name=x) }} {{ _("Bye") }}', encoding="utf-8")
    monkeypatch.setattr(translations, "ROOT", tmp_path)
    translations.update()
    po = translations.po_path(area)
    catalog = translations.read(area)
    catalog.get("Hello %(name)s").string = "你好 %(who)s"
    with po.open("wb") as file:
        translations.write_po(file, catalog)
    assert sorted(translations.problems()) == [
        "web/demo/translations/zh_Hans_CN/LC_MESSAGES/messages.po: 'Bye' is not translated",
        "web/demo/translations/zh_Hans_CN/LC_MESSAGES/messages.po: 'Hello %(name)s': its translation's placeholders differ",
    ]


def test_two_areas_translating_one_message_differently_are_named_unless_a_context_keeps_them_apart(tmp_path: Path, monkeypatch) -> None:
    for name, source in (("ballot", '{{ _("Yes") }} {{ pgettext("ballot answer", "No") }}'), ("form", '{{ _("Yes") }} {{ _("No") }}')):
        (tmp_path / "web" / name / "templates").mkdir(parents=True)
        (tmp_path / "web" / name / "translations").mkdir()
        (tmp_path / "web" / name / "templates" / "page.html").write_text(source, encoding="utf-8")
    monkeypatch.setattr(translations, "ROOT", tmp_path)
    translations.update()
    words = {("ballot", "Yes", None): "同意", ("ballot", "No", "ballot answer"): "反对", ("form", "Yes", None): "是", ("form", "No", None): "否"}
    for (name, message, context), text in words.items():
        area = tmp_path / "web" / name
        catalog = translations.read(area)
        catalog.get(message, context=context).string = text
        with translations.po_path(area).open("wb") as file:
            translations.write_po(file, catalog)
    assert translations.problems() == ["'Yes' is translated differently by the areas: '同意' in web/ballot; '是' in web/form"]
