"""Reading a community register from a CSV file: pure functions, no database (the handler of ``ImportMembers`` adds
the members it reads, all of them in one transaction, or none).

**The format.** A header line, then one member per line (the header is line 1, so the first member is line 2, as a
spreadsheet numbers it). Columns, in any order (only ``name`` is required; each named once):

- ``name`` (姓名): the member's name, 1 to 200 characters;
- ``roles`` (角色): one or more of ``ROLES`` (or their Chinese names, ``ROLE_ALIASES``), separated by spaces, ``;``,
  ``、`` or ``|`` (a comma too when the cell is quoted); empty means ``resident``;
- ``household`` (户号): the register's household, e.g. ``3-402``, at most 100 characters; optional;
- ``area`` (面积): an owner's floor area in m², a positive decimal with at most 4 decimals (``86.35``; a trailing
  ``m2``/``㎡``/``平方米`` is dropped); optional.

Cells are separated by commas (or tabs, as Excel's "Unicode text" saves). The file is UTF-8 (with or without a byte
order mark), UTF-16 with its BOM, or GBK/GB18030 — what Excel saves a ``.csv`` as on a Chinese Windows — read in that
order: bytes that are valid UTF-8 are read as UTF-8, others as GB18030 (a superset of GBK), and the encoding found is
reported so that the admin can see it. Full-width digits and dashes (``３－４０２``) are read as ASCII (NFKC).

**Errors** are found for every row, each with its line and column: a missing name, an unknown role, a bad area, the
same name and household twice in the file, a member already in the community with that name and household, control
characters, too many cells. A cell that starts with ``=``, ``+``, ``-`` or ``@`` (a spreadsheet formula) is plain
text here: Yishi never evaluates it, and the pages escape it.

**Limits**: ``MAX_BYTES`` (256 KiB, about 5,000 lines of a typical register) and ``MAX_ROWS`` members per file.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from engine.identity.members import ROLES
from engine.kernel.errors import InvalidInput

MAX_BYTES = 256 * 1024
MAX_ROWS = 2000
MAX_NAME = 200
MAX_HOUSEHOLD = 100
MAX_ERRORS = 500
"""Errors listed at most (a file of wrong columns could have one per cell)."""
ROLE_ALIASES = {
    "居委会": "committee", "委员会": "committee", "委员": "committee", "居民": "resident", "业主": "owner",
    "审计": "auditor", "审计员": "auditor", "物业": "provider", "服务方": "provider", "管理员": "admin",
    "街道办": "street_office", "街道": "street_office",
}
COLUMNS = ("name", "roles", "household", "area")
COLUMN_ALIASES = {
    "姓名": "name", "名字": "name", "角色": "roles", "身份": "roles", "role": "roles", "户号": "household",
    "房号": "household", "住户": "household", "面积": "area", "建筑面积": "area",
}
DEFAULT_ROLES = ("resident",)
TEMPLATE = (
    "name,roles,household,area\r\n"
    "张阿姨,resident,3-402,\r\n"
    "王先生,resident owner,5-101,86.35\r\n"
    "李委员,committee resident,1-201,\r\n"
)
"""The template offered for download (UTF-8 with a BOM, so that Excel opens it as Unicode)."""

_ROLE_SEPARATORS = re.compile(r"[\s,;，；、|]+")
_AREA = re.compile(r"^\d{1,9}(\.\d{1,4})?$")
_AREA_UNIT = re.compile(r"\s*(m2|m²|平方米|平米)$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Errors = list[dict[str, Any]]


@dataclass(frozen=True)
class ImportRow:
    """A member as they will be added, with the line they came from."""

    line: int
    name: str
    roles: tuple[str, ...]
    household: str | None
    area: str | None


@dataclass
class Preview:
    """What a file would import: its encoding, its rows (each as it will be added), every row-level error, and the
    sha256 of the file's bytes (a confirmation names it, so that exactly the previewed file is imported)."""

    encoding: str
    sha256: str
    rows: list[ImportRow] = field(default_factory=list)
    errors: Errors = field(default_factory=list)

    @property
    def lines_with_errors(self) -> set[int]:
        return {int(error["row"]) for error in self.errors}


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and the name of the encoding it was read in (see the module's docstring)."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"a register file holds at most {MAX_BYTES} bytes",
                           errors=[{"row": 0, "field": "csv", "message": "the file is too large"}])
    try:
        if data.startswith(codecs.BOM_UTF8):
            text, encoding = data[len(codecs.BOM_UTF8):].decode("utf-8"), "UTF-8 (BOM)"
        elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text, encoding = data.decode("utf-16"), "UTF-16"
        else:
            try:
                text, encoding = data.decode("utf-8"), "UTF-8"
            except UnicodeDecodeError:
                text, encoding = data.decode("gb18030"), "GBK"
    except UnicodeDecodeError as exc:
        raise InvalidInput("the file is neither UTF-8 nor GBK text",
                           errors=[{"row": 0, "field": "csv", "message": "unknown text encoding"}]) from exc
    if "\x00" in text:
        raise InvalidInput("the file holds NUL characters: it is not a CSV text file",
                           errors=[{"row": 0, "field": "csv", "message": "NUL characters"}])
    return text, encoding


def member_key(name: str, household: str | None) -> tuple[str, str]:
    """Who a row names, for finding duplicates: the name and household, NFKC-normalised, without spaces, any case."""
    def folded(value: str | None) -> str:
        return "".join(unicodedata.normalize("NFKC", value or "").split()).casefold()
    return folded(name), folded(household)


def read(data: bytes) -> Preview:
    """Read a register file: its rows and every row-level error (duplicates within the file included); a file that
    cannot be read at all (too large, not text, not CSV, a bad header, too many rows) raises ``InvalidInput``."""
    text, encoding = decode(data)
    preview = Preview(encoding, digest(data))
    lines = text.splitlines()
    first = lines[0] if lines else ""
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise InvalidInput("the file is empty: it needs a header line (name,roles,household,area) and a line per member",
                               errors=[{"row": 1, "field": "csv", "message": "no header line"}])
        columns = _columns(header)
        seen: dict[tuple[str, str], int] = {}
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # a blank line (spreadsheets end with some)
            if len(preview.rows) + 1 > MAX_ROWS:
                raise InvalidInput(f"a register file holds at most {MAX_ROWS} members",
                                   errors=[{"row": reader.line_num, "field": "csv", "message": "too many rows"}])
            row, errors = _row(reader.line_num, cells, columns)
            if len(cells) > len(columns):
                errors.append({"row": reader.line_num, "field": "", "message": "more cells than the header has columns"})
            if row.name:
                key = member_key(row.name, row.household)
                if key in seen:
                    errors.append({"row": reader.line_num, "field": "name",
                                   "message": f"the same name and household as line {seen[key]}"})
                else:
                    seen[key] = reader.line_num
            preview.rows.append(row)
            preview.errors.extend(errors)
    except csv.Error as exc:
        raise InvalidInput(f"not a valid CSV file: {exc}",
                           errors=[{"row": reader.line_num, "field": "csv", "message": "not a valid CSV file"}]) from exc
    if not preview.rows:
        raise InvalidInput("the file has no members: add a line per member below the header",
                           errors=[{"row": 2, "field": "csv", "message": "no rows"}])
    del preview.errors[MAX_ERRORS:]
    return preview


def checked_against(preview: Preview, existing: Iterable[tuple[str, str]]) -> Preview:
    """``preview`` with an error for each row naming a member the community has already (same name and household)."""
    known = set(existing)
    for row in preview.rows:
        if row.name and member_key(row.name, row.household) in known:
            preview.errors.append({"row": row.line, "field": "name", "message": "already a member with this name and household"})
    preview.errors.sort(key=lambda error: int(error["row"]))
    del preview.errors[MAX_ERRORS:]
    return preview


def _columns(header: list[str]) -> list[str | None]:
    """Each header cell's column (None for an empty trailing cell); ``InvalidInput`` for unknown or repeated ones."""
    columns: list[str | None] = []
    errors: Errors = []
    for cell in header:
        name = unicodedata.normalize("NFKC", cell).strip().lower()
        column = COLUMN_ALIASES.get(name, name)
        if not column:
            columns.append(None)
            continue
        if column not in COLUMNS:
            errors.append({"row": 1, "field": cell.strip()[:40], "message": "unknown column"})
        elif column in columns:
            errors.append({"row": 1, "field": column, "message": "a column named twice"})
        columns.append(column)
    if "name" not in columns:
        errors.append({"row": 1, "field": "name", "message": "the header has no name column"})
    if errors:
        raise InvalidInput("the header line must name the columns name, roles, household, area (only name is required), each once",
                           errors=errors)
    return columns


def _row(line: int, cells: list[str], columns: list[str | None]) -> tuple[ImportRow, Errors]:
    values = {column: cell for column, cell in zip(columns, cells) if column is not None}
    errors: Errors = []

    for column, value in values.items():
        if _CONTROL.search(value):
            errors.append({"row": line, "field": column, "message": "control characters are not allowed"})
    name = " ".join(values.get("name", "").split())
    if not name:
        errors.append({"row": line, "field": "name", "message": "enter a name"})
    elif len(name) > MAX_NAME:
        errors.append({"row": line, "field": "name", "message": f"a name has at most {MAX_NAME} characters"})
    roles: list[str] = []
    for word in _ROLE_SEPARATORS.split(unicodedata.normalize("NFKC", values.get("roles", "")).strip()):
        if not word:
            continue
        role = ROLE_ALIASES.get(word, word.lower())
        if role not in ROLES:
            errors.append({"row": line, "field": "roles", "message": f"unknown role: {word[:40]}"})
        elif role not in roles:
            roles.append(role)
    household = unicodedata.normalize("NFKC", values.get("household", "")).strip() or None
    if household is not None and len(household) > MAX_HOUSEHOLD:
        errors.append({"row": line, "field": "household", "message": f"a household has at most {MAX_HOUSEHOLD} characters"})
    area = _AREA_UNIT.sub("", unicodedata.normalize("NFKC", values.get("area", "")).strip()) or None
    if area is not None and not _positive(area):
        errors.append({"row": line, "field": "area", "message": "not a positive number of m² with at most 4 decimals, e.g. 86.35"})
    return ImportRow(line, name, tuple(sorted(roles or DEFAULT_ROLES)), household, area), errors


def _positive(area: str) -> bool:
    try:
        return bool(_AREA.match(area)) and Decimal(area) > 0
    except InvalidOperation:
        return False
