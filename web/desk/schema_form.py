"""A task's form, rendered from its JSON Schema and read back into the JSON data the engine validates.

The schema is the one frozen in the task's definition version (``GET /api/tasks/<id>`` returns it as
``form_schema``). Nothing here validates: a value the page cannot read as the schema's type (``abc`` for a number)
is sent as typed, so the engine's own validation refuses it, field by field, with the JSON path of each failing field.

**Names.** Every input is named by its JSON path (``vote.options.0.label``), its id is that path with dashes
(``f-vote-options-0-label``): an engine error for ``vote.options.0.label`` lands beside that input, and one for a
path the page shows no input for (``vote.options``, a whole array) lands on the nearest enclosing fieldset.

**Widgets.** A schema says what data is valid, not always how to ask for it: the vote's ``rule`` is a free
``object``. The renderer keeps a registry of widgets keyed by property path (``WIDGETS["vote.rule"]``), so the
deployed forms stay as they are (changing them would change every definition version's content).

**Arrays** are rows of inputs with an "add another" button that submits the form to itself (``__add`` names the
array) and comes back with one more row: no JavaScript needed. Rows left entirely empty are dropped.

**Languages.** Schema titles are bilingual, ``English (中文)``, and descriptions ``English. 中文。``; ``bilingual``
keeps the page's language where the text splits reliably, else the whole text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

ADD = "__add"
"""The name of the "add another" buttons; the value is the array's path."""
MAX_ROWS = 500
"""No array is shown with more rows than this, whatever a request asks for."""
SELECT_OVER = 6
"""Enums with more choices than this are a select rather than radios."""
LONG_TEXT = 300
"""Strings whose maxLength is over this are a textarea."""

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
_TITLE = re.compile(r"^(?P<en>[^\u3400-\u9fff]+?)\s*[(（](?P<zh>[^()（）]*[\u3400-\u9fff][^()（）]*)[)）]\s*$")
_INTEGER = re.compile(r"[+-]?\d{1,18}")
_NUMBER = re.compile(r"[+-]?(\d{1,18}(\.\d{0,12})?|\.\d{1,12})")


VALUE_WORDS = {
    # enum values the bundled forms do not describe one by one
    "at_least": _l("At least"), "at_most": _l("At most"), "ratings": _l("Residents' ratings"),
    "measurements": _l("Measurements"), "records": _l("Service records"),
}


# --- languages ----------------------------------------------------------------------------------

def bilingual(text: str | None, locale: str) -> str:
    """The part of an ``English (中文)`` title or ``English. 中文。`` description in the page's language."""
    if not text:
        return ""
    text = text.strip()
    chinese = locale.startswith("zh")
    title = _TITLE.match(text)
    if title:
        return title.group("zh").strip() if chinese else title.group("en").strip()
    first = _CJK.search(text)
    if first is None:
        return text
    before = text[:first.start()]
    if before.count("(") + before.count("（") > before.count(")") + before.count("）"):
        return text  # Chinese inside the English part's parentheses: no reliable split
    english, rest = before.strip(), text[first.start():].strip()
    if not english or not re.search(r"[.!?:;)]\s*$", before) and not english.endswith(("。", ".")):
        return text
    return rest if chinese else english


# --- the schema ---------------------------------------------------------------------------------

def resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """A schema with its local ``$ref`` (``#/$defs/…``) followed."""
    seen = 0
    while isinstance(schema, Mapping) and "$ref" in schema and seen < 20:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise UnrenderableForm(f"only local references are supported, not {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        if not isinstance(target, Mapping):
            raise UnrenderableForm(f"reference {ref!r} leads nowhere")
        schema, seen = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}, seen + 1
    return schema


class UnrenderableForm(Exception):
    """A schema this renderer cannot turn into fields (a test fails on any bundled form that raises it)."""


def kind_of(schema: Mapping[str, Any]) -> str:
    """What input a (resolved) property schema gets."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    if "enum" in schema and kind in ("string", None):
        return "select" if len(schema["enum"]) > SELECT_OVER else "radios"
    if kind == "string":
        fmt = schema.get("format")
        if fmt in ("date-time", "future-date-time"):
            return "datetime"
        if fmt == "date":
            return "date"
        return "textarea" if int(schema.get("maxLength") or 0) > LONG_TEXT else "text"
    if kind in ("integer", "number", "boolean", "object", "array"):
        return kind
    raise UnrenderableForm(f"no input for a schema of type {kind!r}")


def path_name(path: Iterable[Any]) -> str:
    return ".".join(str(part) for part in path)


def path_id(path: Iterable[Any]) -> str:
    return "f-" + "-".join(str(part) for part in path) if path else "f-form"


def widget_key(path: tuple[Any, ...]) -> str:
    """A path as the widget registry keys it: array indices become ``*``."""
    return ".".join("*" if isinstance(part, int) else str(part) for part in path)


# --- widgets ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Widget:
    """A property asked for in a way of its own: how it is rendered (``build``), read (``read``) and written into
    form values (``write``)."""

    build: Callable[["Builder", tuple[Any, ...], Mapping[str, Any], bool], "Field"]
    read: Callable[[Mapping[str, str], tuple[Any, ...]], tuple[bool, Any]]
    write: Callable[[Any, tuple[Any, ...], dict[str, str]], None]


WIDGETS: dict[str, Widget] = {}


def widget(path: str) -> Callable[[Widget], Widget]:
    def register(made: Widget) -> Widget:
        WIDGETS[path] = made
        return made
    return register


# --- fields -------------------------------------------------------------------------------------

@dataclass
class Option:
    value: str
    label: str
    hint: str = ""


@dataclass
class Field:
    """One thing the page asks for: an input, a group of radios, a fieldset of fields, or an array's rows."""

    kind: str
    path: tuple[Any, ...]
    label: str
    hint: str = ""
    required: bool = False
    value: str = ""
    checked: bool = False
    options: list[Option] = field(default_factory=list)
    children: list["Field"] = field(default_factory=list)
    rows: list["Field"] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    can_add: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return path_name(self.path)

    @property
    def id(self) -> str:
        return path_id(self.path)

    def walk(self) -> Iterable["Field"]:
        yield self
        for child in [*self.children, *self.rows]:
            yield from child.walk()


class Builder:
    """Turns a schema and the form's values into fields."""

    def __init__(self, schema: Mapping[str, Any], values: Mapping[str, str], locale: str, add: str | None = None,
                 timezone: str = "", keep_order: bool = True) -> None:
        """``keep_order``: the properties are in their author's order; else (a schema whose keys were sorted when it
        was frozen) the required ones come first, in the order ``required`` lists them."""
        self.root, self.values, self.locale, self.add, self.timezone = schema, values, locale, add, timezone
        self.keep_order = keep_order

    def text(self, value: Any) -> str:
        return bilingual(value if isinstance(value, str) else None, self.locale)

    def form(self) -> list[Field]:
        schema = resolve(self.root, self.root)
        if schema.get("type") != "object":
            raise UnrenderableForm("a task's form must be an object")
        return self.properties(schema, ())

    def properties(self, schema: Mapping[str, Any], path: tuple[Any, ...]) -> list[Field]:
        required = set(schema.get("required") or ())
        hints = conditional_hints(schema, self)
        fields = []
        given = dict(schema.get("properties") or {})
        order = list(given) if self.keep_order else (
            [key for key in schema.get("required") or () if key in given] + [key for key in given if key not in required])
        for key, sub in ((key, given[key]) for key in order):
            made = self.field(sub, (*path, key), key in required, conditional_min_items(schema, key))
            if key in hints:
                made.hint = " ".join(part for part in (made.hint, *hints[key]) if part)
            conditions = hide_conditions(schema, key)
            if conditions:
                made.extra["hide_when"] = conditions
            fields.append(made)
        return fields

    def field(self, schema: Mapping[str, Any], path: tuple[Any, ...], required: bool, initial: int = 0) -> Field:
        schema = resolve(schema, self.root)
        key = widget_key(path)
        if key in WIDGETS:
            return WIDGETS[key].build(self, path, schema, required)
        kind = kind_of(schema)
        label = self.text(schema.get("title")) or str(path[-1]).replace("_", " ").capitalize()
        made = Field(kind, path, label, self.text(schema.get("description")), required)
        name = path_name(path)
        if kind in ("radios", "select"):
            made.options, rest = enum_options(schema, self)
            made.hint = rest
            made.value = self.values.get(name, "")
        elif kind == "boolean":
            default = schema.get("default") is True
            made.checked = self.values.get(name, "true" if default and not self.values else "") in ("true", "on", "1")
        elif kind == "object":
            made.children = self.properties(schema, path)
        elif kind == "array":
            self.array(made, schema, path, initial)
        else:
            made.value = self.values.get(name, "")
            made.attrs = input_attrs(kind, schema)
            if kind == "datetime":
                made.hint = self.datetime_hint(schema, made.hint)
        return made

    def datetime_hint(self, schema: Mapping[str, Any], hint: str) -> str:
        words = _("In the community's time (%(zone)s).", zone=self.timezone) if self.timezone else ""
        if schema.get("format") == "future-date-time":
            words = " ".join(filter(None, (words, _("It must be in the future."))))
        if self.locale.startswith("zh") or not hint or hint.startswith("ISO 8601"):
            # the schema's text explains the ISO 8601 typing this input spares; keep what follows that explanation
            rest = hint.split("future;", 1)[1].strip() if "future;" in hint else ""
            return " ".join(filter(None, (rest.capitalize() if rest else "", words))) if not self.locale.startswith("zh") else words
        return " ".join(filter(None, (hint, words)))

    def array(self, made: Field, schema: Mapping[str, Any], path: tuple[Any, ...], initial: int = 0) -> None:
        items = resolve(schema.get("items") or {}, self.root)
        item_kind = kind_of(items)
        if item_kind == "array":
            raise UnrenderableForm("arrays of arrays are not supported")
        prefix = path_name(path) + "."
        indices = {int(k[len(prefix):].split(".", 1)[0]) for k in self.values
                   if k.startswith(prefix) and k[len(prefix):].split(".", 1)[0].isdigit()}
        count = max(indices) + 1 if indices else 0
        minimum = max(int(schema.get("minItems") or 0), int(initial or 0), 1)
        count = max(count, minimum) if not indices else count
        if self.add == path_name(path):
            count += 1
        limit = min(int(schema.get("maxItems") or MAX_ROWS), MAX_ROWS)
        count = min(count, max(limit, 1))
        made.can_add = count < limit
        item_title = self.text(items.get("title")) or made.label
        for index in range(count):
            row = self.field(items, (*path, index), False)
            row.label = f"{item_title} {index + 1}"
            row.extra["row"] = True
            made.rows.append(row)
        made.extra["item_kind"] = item_kind
        made.extra["item_title"] = item_title


def input_attrs(kind: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if kind in ("text", "textarea") and schema.get("maxLength"):
        attrs["maxlength"] = schema["maxLength"]
    if kind == "integer":
        attrs.update(type="text", inputmode="numeric")
    elif kind == "number":
        attrs.update(type="text", inputmode="decimal")
    elif kind == "datetime":
        attrs.update(type="datetime-local")
    elif kind == "date":
        attrs.update(type="date")
    elif kind == "text":
        attrs.update(type="text")
    return attrs


def enum_options(schema: Mapping[str, Any], builder: Builder) -> tuple[list[Option], str]:
    """The choices of an enum, each with its label where the description gives one (``value: label; …``), and what
    is left of the description as a hint."""
    description = schema.get("description") or ""
    values = [str(v) for v in schema.get("enum", [])]
    found: dict[str, str] = {}
    rest = description
    for value in values:
        match = re.search(rf"(?:^|;\s*){re.escape(value)}:\s*(?P<text>[^;]+?)(?=;\s*[a-z_]+:|$)", description, re.S)
        if match:
            text = match.group("text").strip()
            cut = text.find(")")
            if cut != -1:
                text = text[:cut + 1]
            else:
                text = re.split(r"(?<=[.。])\s", text, maxsplit=1)[0].rstrip(".")
            found[value] = text
    if found:
        last = values[-1] if values[-1] in found else None
        if last:
            tail = description.split(found[last], 1)
            rest = tail[1].lstrip(" .;").strip() if len(tail) > 1 else ""
        else:
            rest = ""
    options = []
    for value in values:
        shown = (builder.text(found[value]) if value in found
                 else str(VALUE_WORDS[value]) if value in VALUE_WORDS else value.replace("_", " "))
        options.append(Option(value, shown[:1].upper() + shown[1:]))
    return options, builder.text(rest) if rest else ""


def conditional_hints(schema: Mapping[str, Any], builder: Builder) -> dict[str, list[str]]:
    """Hints from ``if``/``then``/``else`` in an object's schema: which fields are required, or must stay empty, when
    another field has a given value (e.g. no options for a yes/no vote)."""
    hints: dict[str, list[str]] = {}
    rules = [schema, *[part for part in schema.get("allOf") or () if isinstance(part, Mapping)]]
    properties = schema.get("properties") or {}
    for rule in rules:
        condition = rule.get("if")
        if not isinstance(condition, Mapping):
            continue
        consts = {key: sub["const"] for key, sub in (condition.get("properties") or {}).items()
                  if isinstance(sub, Mapping) and "const" in sub}
        if len(consts) != 1:
            continue
        (key, value), = consts.items()
        subject = resolve(properties.get(key) or {}, builder.root)
        label = builder.text(subject.get("title")) or key
        choices, _rest = enum_options(subject, builder) if "enum" in subject else ([], "")
        shown = next((o.label for o in choices if o.value == str(value)), str(value))
        for branch, when in (("then", True), ("else", False)):
            part = rule.get(branch)
            if not isinstance(part, Mapping):
                continue
            for name in part.get("required") or ():
                message = (_("Needed when “%(field)s” is “%(value)s”.", field=label, value=shown) if when
                           else _("Needed unless “%(field)s” is “%(value)s”.", field=label, value=shown))
                hints.setdefault(name, []).append(message)
            for name, sub in (part.get("properties") or {}).items():
                if isinstance(sub, Mapping) and sub.get("maxItems") == 0:
                    message = (_("Leave this empty when “%(field)s” is “%(value)s”.", field=label, value=shown) if when
                               else _("Leave this empty unless “%(field)s” is “%(value)s”.", field=label, value=shown))
                    hints.setdefault(name, []).append(message)
    return hints


def conditional_min_items(schema: Mapping[str, Any], key: str) -> int:
    """The most rows any ``then``/``else`` branch asks of an array (a vote's options: two unless yes/no)."""
    found = 0
    for rule in [schema, *[part for part in schema.get("allOf") or () if isinstance(part, Mapping)]]:
        for branch in ("then", "else"):
            part = rule.get(branch)
            sub = (part.get("properties") or {}).get(key) if isinstance(part, Mapping) else None
            if isinstance(sub, Mapping) and isinstance(sub.get("minItems"), int):
                found = max(found, sub["minItems"])
    return min(found, 20)


def hide_conditions(schema: Mapping[str, Any], key: str) -> str:
    """``field=value`` when a property must stay empty while a sibling has that value (the page's script may hide it
    then; without the script the hint says so)."""
    condition, then = schema.get("if"), schema.get("then")
    if not isinstance(condition, Mapping) or not isinstance(then, Mapping):
        return ""
    sub = (then.get("properties") or {}).get(key)
    consts = [(name, c["const"]) for name, c in (condition.get("properties") or {}).items() if isinstance(c, Mapping) and "const" in c]
    if isinstance(sub, Mapping) and sub.get("maxItems") == 0 and len(consts) == 1:
        return f"{consts[0][0]}={consts[0][1]}"
    return ""


# --- reading the form back ----------------------------------------------------------------------

def read_form(schema: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """The JSON data a submitted form says, shaped by the schema; what does not parse as its type is sent as typed."""
    present, data = _read(schema, resolve(schema, schema), (), form, top=True)
    return data if present and isinstance(data, dict) else {}


def _read(root: Mapping[str, Any], schema: Mapping[str, Any], path: tuple[Any, ...], form: Mapping[str, str],
          top: bool = False, in_row: bool = False) -> tuple[bool, Any]:
    schema = resolve(schema, root)
    key = widget_key(path)
    if key in WIDGETS and path:
        return WIDGETS[key].read(form, path)
    kind = kind_of(schema)
    name = path_name(path)
    if kind == "object":
        data: dict[str, Any] = {}
        required = set(schema.get("required") or ())
        real = False
        for prop, sub in (schema.get("properties") or {}).items():
            present, value = _read(root, sub, (*path, prop), form, in_row=in_row)
            real = real or present
            if present or prop in required and isinstance(value, dict):
                data[prop] = value
        return top or real, data
    if kind == "array":
        items = resolve(schema.get("items") or {}, root)
        prefix = name + "."
        indices = sorted({int(k[len(prefix):].split(".", 1)[0]) for k in form
                          if k.startswith(prefix) and k[len(prefix):].split(".", 1)[0].isdigit()})
        rows = []
        for index in indices[:MAX_ROWS + 1]:
            present, value = _read(root, items, (*path, index), form, in_row=True)
            if present:
                rows.append(value)
        return bool(rows), rows
    if kind == "boolean":
        checked = form.get(name, "") in ("true", "on", "1")
        return (checked if in_row else True), checked
    raw = form.get(name, "")
    if not isinstance(raw, str) or raw == "":
        return False, None
    if kind == "integer":
        text = raw.strip()
        return True, int(text) if _INTEGER.fullmatch(text) else raw
    if kind == "number":
        text = raw.strip().replace(",", ".") if raw.count(",") == 1 and "." not in raw else raw.strip()
        if _NUMBER.fullmatch(text):
            number = float(text)
            return True, int(number) if number.is_integer() and "." not in text else number
        return True, raw
    if kind == "datetime":
        return True, raw.strip()
    if kind == "date":
        return True, raw.strip()
    return True, raw


# --- writing data into form values --------------------------------------------------------------

def form_values(schema: Mapping[str, Any], data: Any) -> dict[str, str]:
    """The form values that say ``data`` (what ``read_form`` reads back as ``data``): to show sent data again."""
    values: dict[str, str] = {}
    _write(schema, resolve(schema, schema), data, (), values)
    return values


def _write(root: Mapping[str, Any], schema: Mapping[str, Any], data: Any, path: tuple[Any, ...], values: dict[str, str]) -> None:
    schema = resolve(schema, root)
    key = widget_key(path)
    if key in WIDGETS and path:
        WIDGETS[key].write(data, path, values)
        return
    try:
        kind = kind_of(schema)
    except UnrenderableForm:
        kind = "text"
    name = path_name(path)
    if kind == "object" and isinstance(data, Mapping):
        properties = schema.get("properties") or {}
        for prop, value in data.items():
            if prop in properties:
                _write(root, properties[prop], value, (*path, prop), values)
    elif kind == "array" and isinstance(data, list):
        items = schema.get("items") or {}
        for index, value in enumerate(data[:MAX_ROWS]):
            _write(root, items, value, (*path, index), values)
    elif kind == "boolean":
        if data is True:
            values[name] = "true"
    elif data is not None and not isinstance(data, (dict, list)):
        values[name] = "true" if data is True else "false" if data is False else str(data)


# --- the engine's errors beside the fields --------------------------------------------------------

def place_errors(fields: list[Field], errors: Iterable[Mapping[str, Any]], message: Callable[[Field | None, str], str]) -> list[str]:
    """Put each engine error (``{"field": "vote.options.0.label", "message": …}``) on the field of that path, or of
    the nearest enclosing path the page shows; what fits no field is returned, for the form as a whole."""
    shown = {f.name: f for top in fields for f in top.walk()}
    loose: list[str] = []
    for error in errors:
        path = str(error.get("field") or "")
        parts = path.split(".") if path else []
        target = None
        while parts:
            target = shown.get(".".join(parts))
            if target is not None:
                break
            parts.pop()
        text = message(target, str(error.get("message") or ""))
        if target is None:
            if text not in loose:
                loose.append(text)
        elif text not in target.errors and not target.errors:
            target.errors.append(text)
    return loose


def friendly(target: Field | None, message: str) -> str:
    """An engine (jsonschema or domain) message as a sentence for the committee, naming the field."""
    from web.i18n import translated

    if target is None:
        return translated(message)
    label = target.label
    choose = target.kind in ("radios", "select", "rule")
    if "is a required property" in message or "should be non-empty" in message or "does not match '\\\\S'" in message \
            or message.endswith("does not match '\\S'"):
        if target.kind == "array":
            return _("Give at least one “%(field)s”.", field=label)
        return _("Choose “%(field)s”.", field=label) if choose else _("Enter “%(field)s”.", field=label)
    if "is not in the future" in message or "is not a 'future-date-time'" in message:
        return _("“%(field)s” must be in the future.", field=label)
    if message == "in the past":  # a domain's refusal of a date (a convention's effective date) or a deadline
        return (_("“%(field)s” must be today or later.", field=label) if target.kind == "date"
                else _("“%(field)s” must be in the future.", field=label))
    if "is not of type 'integer'" in message:
        return _("“%(field)s” must be a whole number.", field=label)
    if "is not of type 'number'" in message:
        return _("“%(field)s” must be a number.", field=label)
    if "is not of type" in message:
        return _("“%(field)s” is not in the expected form.", field=label)
    if "is not one of" in message:
        return _("Choose one of the choices for “%(field)s”.", field=label)
    if "is expected to be empty" in message:
        return _("Leave “%(field)s” empty here.", field=label)
    if "is too short" in message and target.kind == "array":
        return _("“%(field)s” needs more rows.", field=label)
    if "is too short" in message:
        return _("Enter “%(field)s”.", field=label)
    if "is too long" in message and target.kind == "array":
        return _("“%(field)s” has too many rows.", field=label)
    if "is too long" in message:
        limit = target.attrs.get("maxlength")
        return (_("“%(field)s” must be %(limit)s characters or fewer.", field=label, limit=limit) if limit
                else _("“%(field)s” is too long.", field=label))
    minimum = re.search(r"less than (?:or equal to )?the minimum of (\S+)", message)
    if minimum:
        return _("“%(field)s” must be %(limit)s or more.", field=label, limit=minimum.group(1))
    maximum = re.search(r"greater than (?:or equal to )?the maximum of (\S+)", message)
    if maximum:
        return _("“%(field)s” must be %(limit)s or less.", field=label, limit=maximum.group(1))
    if "is not a 'date'" in message:
        return _("“%(field)s” must be a real date.", field=label)
    if "does not match" in message or "is not a '" in message:
        return _("“%(field)s” is not in the expected format.", field=label)
    if "should not be valid under" in message:
        return _("This value is not allowed for “%(field)s”.", field=label)
    if "has non-unique elements" in message:
        return _("“%(field)s” lists the same entry twice.", field=label)
    return f"{label}: {translated(message)}"


from web.desk import rule_widget  # noqa: E402,F401  (registers the vote rule's widget)
