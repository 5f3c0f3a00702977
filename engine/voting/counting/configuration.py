"""A vote's configuration: method, options, seed and rule, checked before any ballot is read.

``{"method": "irv", "options": ["park", "gym", "library"], "seed": "vote-42", "rule": {...}}``.
A yes/no vote has no options (its choices are fixed). The seed feeds the lot (see ``lots``) and
must be fixed before the ballots are known. Keys that are not the tally's concern (whether the
vote is secret, its title, …) are left for their owners.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.voting.counting.ballots import ABSTAIN, METHODS, YES_NO
from engine.voting.counting.refusal import refuse

MAX_OPTIONS = 100  # Schulze's strongest paths grow with the cube of the options


@dataclass(frozen=True)
class Vote:
    method: str
    options: list[str]
    seed: str
    rule: Any


def read_vote(config: Any) -> Vote:
    if not isinstance(config, dict):
        refuse("config", "an object with method, options, seed and rule")
    method = config.get("method")
    if method not in METHODS:
        refuse("config.method", f"one of {', '.join(METHODS)}")
    seed = config.get("seed")
    if not isinstance(seed, str) or not seed:
        refuse("config.seed", "a non-empty text fixed before voting, e.g. the vote's id")
    return Vote(method, _options(config, method), seed, config.get("rule", {}))


def _options(config: dict[str, Any], method: str) -> list[str]:
    if method == "yes_no_abstain":
        if "options" in config:
            refuse("config.options", "a yes/no vote has no options: its choices are yes, no and abstain")
        return list(YES_NO)
    options = config.get("options")
    if type(options) is not list or not 2 <= len(options) <= MAX_OPTIONS:
        refuse("config.options", f"a list of 2 to {MAX_OPTIONS} option ids")
    if any(type(option) is not str or not option for option in options):
        refuse("config.options", "option ids are non-empty texts")
    if len(set(options)) != len(options):
        refuse("config.options", "option ids must be distinct")
    if ABSTAIN in options:
        refuse("config.options", f"{ABSTAIN!r} is reserved for abstaining")
    return options
