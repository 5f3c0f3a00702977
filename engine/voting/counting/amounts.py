"""Exact quantities: weights and shares as fractions, read from text and rendered for JSON and people.

Weights arrive as decimal strings (a floor area of "86.35" m²) and decisions hinge on exact
boundaries (exactly 2/3 passes "at least 2/3"), so nothing here ever touches a float. Published
numbers carry the exact fraction for recounting and a decimal for reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

Basis = Literal["heads", "weight"]

DECIMAL = re.compile(r"\d+(\.\d+)?")
RATIO = re.compile(r"(\d+)/(\d+)")
PLACES = 6


@dataclass(frozen=True)
class Amount:
    """A number of people together with the weight they hold: every count is kept both ways."""

    heads: int
    weight: Fraction

    def of(self, basis: Basis) -> Fraction:
        return Fraction(self.heads) if basis == "heads" else self.weight

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.heads + other.heads, self.weight + other.weight)

    def __sub__(self, other: Amount) -> Amount:
        return Amount(self.heads - other.heads, self.weight - other.weight)

    def render(self) -> dict[str, Any]:
        return {"heads": self.heads, "weight": render(self.weight)}



def parse_weight(value: object) -> Fraction:
    """A positive weight from an int or a decimal string; floats are refused since they are already inexact."""
    if type(value) is int:
        weight = Fraction(value)
    elif isinstance(value, str) and DECIMAL.fullmatch(value):
        weight = Fraction(value)
    else:
        raise ValueError("a weight is a positive integer or a decimal string such as \"86.35\"")
    if weight <= 0:
        raise ValueError("a weight must be positive")
    return weight


def parse_share(value: object) -> Fraction:
    """A share written "p/q" with 0 < p/q <= 1: the form the rules use, so 2/3 stays exactly 2/3."""
    match = RATIO.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match[2]) == 0:
        raise ValueError("a share is written \"p/q\", e.g. \"2/3\"")
    share = Fraction(int(match[1]), int(match[2]))
    if not 0 < share <= 1:
        raise ValueError("a share must be more than 0 and at most 1")
    return share


def render(value: Fraction) -> dict[str, str]:
    """The exact fraction for recounting, and a decimal (6 places at most) for reading."""
    return {"fraction": str(value), "decimal": decimal_text(value)}


def decimal_text(value: Fraction, places: int = PLACES, grouped: bool = False) -> str:
    scaled = Decimal(round(value * 10**places)).scaleb(-places)
    text = format(scaled, ",f" if grouped else "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def number_text(value: Fraction) -> str:
    """A count or weight as people write it: 18,432.5."""
    return decimal_text(value, grouped=True)


def percent_text(part: Fraction, whole: Fraction) -> str:
    return f"{decimal_text(100 * part / whole, places=1)}%" if whole else "n/a"
