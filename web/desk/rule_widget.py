"""The vote's ``rule`` (a free ``object`` in ``vote/configure.json``): a choice between the method's default, the
presets of ``engine/voting/counting/rules.py`` (Civil Code art. 278) and a quorum and threshold of one's own.

It writes exactly the JSON the tally reads (``read_rule``): ``{}``, ``{"preset": "civil_code_278"}``, or
``{"quorum": {"share", "basis", "abstentions_count"}, "threshold": {"kind", "basis", "abstentions_in_base"[, "fraction",
"strict"]}}`` — and the inputs are named by those JSON paths, so the tally's refusal of ``vote.rule.quorum.basis``
lands beside that input.
"""

from __future__ import annotations

from typing import Any, Mapping

from flask_babel import gettext as _

from engine.voting.counting.rules import KINDS, PRESETS
from web.desk.schema_form import Builder, Field, Option, Widget, path_name, widget

DEFAULT, CUSTOM = "default", "custom"
BASES = ("heads", "weight", "both")


def _preset_options() -> list[Option]:
    words = {
        "civil_code_278": (_("Civil Code art. 278, ordinary matters"),
                           _("Owners holding at least 2/3 of the floor area, and at least 2/3 of the owners, take part; "
                             "more than half of the participating area and owners agree. Choose property owners as who may vote.")),
        "civil_code_278_major": (_("Civil Code art. 278, major matters"),
                                 _("The same participation; at least 3/4 of the participating area and owners agree (raising "
                                   "maintenance funds, rebuilding, changing the use of common parts). Choose property owners as who may vote.")),
    }
    made = [Option(DEFAULT, _("The method's usual rule"),
                   _("Yes/no votes: more yes than no. Other methods: the option with most votes wins; no quorum."))]
    made += [Option(name, *words.get(name, (name.replace("_", " "), ""))) for name in PRESETS]
    made.append(Option(CUSTOM, _("A quorum and a threshold of your own"), _("Set them below.")))
    return made


def _basis_options() -> list[Option]:
    return [Option("heads", _("By heads (one voter, one vote)")), Option("weight", _("By floor area (owners only)")),
            Option("both", _("Both: heads and floor area (owners only)"))]


def _kind_options() -> list[Option]:
    names = {"simple_majority": _("More than half of the ballots (simple majority)"),
             "majority_of_eligible": _("More than half of everyone eligible"),
             "two_thirds": _("At least two thirds of the ballots"),
             "three_quarters": _("At least three quarters of the ballots"),
             "custom": _("A fraction of your own")}
    return [Option("", _("The method's usual threshold")), *[Option(k, names.get(k, k)) for k in [*KINDS, "custom"]]]


def build(builder: Builder, path: tuple[Any, ...], schema: Mapping[str, Any], required: bool) -> Field:
    values, name = builder.values, path_name(path)
    label = builder.text(schema.get("title")) or _("Rule")
    chosen = values.get(f"{name}.preset") or DEFAULT
    fresh = not any(key.startswith(name + ".") for key in values)

    def sub(*parts: str) -> tuple[Any, ...]:
        return (*path, *parts)

    def value(*parts: str) -> str:
        return values.get(path_name(sub(*parts)), "")

    def checked(*parts: str, default: bool = False) -> bool:
        got = values.get(path_name(sub(*parts)))
        return default if got is None and fresh else got in ("true", "on", "1")

    preset = Field("radios", sub("preset"), _("How the result is decided"), required=True, value=chosen,
                   options=_preset_options())
    quorum = Field("object", sub("quorum"), _("Quorum"), _("Leave the share empty for no quorum."), children=[
        Field("text", sub("quorum", "share"), _("Share of the eligible who must take part"),
              _("A fraction such as 1/2 or 2/3."), value=value("quorum", "share"), attrs={"type": "text", "maxlength": 20}),
        Field("radios", sub("quorum", "basis"), _("Counted"), value=value("quorum", "basis") or "heads", options=_basis_options()),
        Field("boolean", sub("quorum", "abstentions_count"), _("Abstaining counts as taking part"),
              checked=checked("quorum", "abstentions_count", default=True)),
    ])
    threshold = Field("object", sub("threshold"), _("Threshold"), _("What a decision needs. Ranked methods have none."), children=[
        Field("select", sub("threshold", "kind"), _("Needed to carry the decision"), value=value("threshold", "kind"),
              options=_kind_options()),
        Field("text", sub("threshold", "fraction"), _("Your fraction"), _("Only for a fraction of your own, e.g. 3/5."),
              value=value("threshold", "fraction"), attrs={"type": "text", "maxlength": 20}),
        Field("radios", sub("threshold", "strict"), _("Your fraction is"), value=value("threshold", "strict"),
              options=[Option("true", _("a minimum to exceed (more than)")), Option("false", _("a minimum to reach (at least)"))]),
        Field("radios", sub("threshold", "basis"), _("Counted"), value=value("threshold", "basis") or "heads",
              options=_basis_options()),
        Field("boolean", sub("threshold", "abstentions_in_base"), _("Abstentions count in the base"),
              checked=checked("threshold", "abstentions_in_base")),
    ])
    custom = Field("object", sub("custom"), _("A quorum and a threshold of your own"),
                   _("Used only when you choose “A quorum and a threshold of your own” above."), children=[quorum, threshold])
    custom.extra["show_when"] = f"{name}.preset={CUSTOM}"
    return Field("rule", path, label, _("Checked when the vote opens."), required, children=[preset, custom])


def read(form: Mapping[str, str], path: tuple[Any, ...]) -> tuple[bool, Any]:
    name = path_name(path)

    def get(*parts: str) -> str:
        got = form.get(".".join((name, *parts)), "")
        return got.strip() if isinstance(got, str) else ""

    chosen = get("preset") or DEFAULT
    if chosen == DEFAULT:
        return True, {}
    if chosen != CUSTOM:
        return True, {"preset": chosen}
    rule: dict[str, Any] = {}
    if get("quorum", "share"):
        rule["quorum"] = {"share": get("quorum", "share"), "basis": get("quorum", "basis") or "heads",
                          "abstentions_count": get("quorum", "abstentions_count") in ("true", "on", "1")}
    kind = get("threshold", "kind")
    if kind:
        threshold: dict[str, Any] = {"kind": kind, "basis": get("threshold", "basis") or "heads",
                                     "abstentions_in_base": get("threshold", "abstentions_in_base") in ("true", "on", "1")}
        if kind == "custom":
            threshold["fraction"] = get("threshold", "fraction")
            if get("threshold", "strict") in ("true", "false"):
                threshold["strict"] = get("threshold", "strict") == "true"
        rule["threshold"] = threshold
    return True, rule


def write(data: Any, path: tuple[Any, ...], values: dict[str, str]) -> None:
    name = path_name(path)
    if not isinstance(data, Mapping) or not data:
        values[f"{name}.preset"] = DEFAULT
        return
    if set(data) == {"preset"} and isinstance(data["preset"], str):
        values[f"{name}.preset"] = data["preset"]
        return
    values[f"{name}.preset"] = CUSTOM
    for part in ("quorum", "threshold"):
        given = data.get(part)
        if isinstance(given, Mapping):
            for key, value in given.items():
                if isinstance(value, bool):
                    if value:
                        values[f"{name}.{part}.{key}"] = "true"
                    elif key == "strict":
                        values[f"{name}.{part}.{key}"] = "false"
                elif value is not None:
                    values[f"{name}.{part}.{key}"] = str(value)
    values.setdefault(f"{name}.quorum.basis", "heads")


widget("vote.rule")(Widget(build, read, write))
