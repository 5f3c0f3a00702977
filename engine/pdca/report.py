"""The series report: quality judged over time, across cycles — as data, as CSV and as a chart per indicator.

Per indicator: every cycle's value and target (the target that cycle was held to) and its
classification, the count of cycles met and missed, and the trend over the latest cycles
(``engine.pdca.indicators.trend``). For the series: its corrective actions still open, and how many of
the residents' requests were answered in time (within the series' ``answer_hours``). Charts are
drawn with matplotlib's Agg renderer on a ``Figure`` of their own, never through pyplot's global
state, so they render headless and from several request threads at once.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.pdca import indicators
from engine.kernel.errors import NotFound
from engine.pdca.models import CorrectiveAction, IndicatorResult, ServiceCycle, ServiceRequest, ServiceSeries
from engine.kernel.models import Definition
from engine.pdca.cycles import compute

CSV_COLUMNS = ("series", "service", "cycle", "cycle_status", "starts_at", "indicator", "name", "unit", "kind",
               "direction", "target", "value", "samples", "status", "escalated", "decision_version")
COLOURS = {"met": "#2e7d32", "near": "#f9a825", "missed": "#c62828"}
CJK_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei")
"""Fonts tried for Chinese service names, when installed; DejaVu Sans (bundled) covers the rest."""


def series_report(session: Session, series: ServiceSeries, now: datetime) -> dict[str, Any]:
    """The report every member may read; ``now`` decides which unanswered requests are already late."""
    cycles = _cycles(session, series)
    results = _results(session, cycles)
    return {
        "series_id": series.id, "service": series.service, "status": series.status, "cycles": len(cycles),
        "indicators": [_indicator_report(item, cycles, results) for item in series.standard],
        "open_corrective_actions": [_action(a, cycles) for a in _open_actions(session, cycles)],
        "requests": requests_in_time(session, series, cycles, now),
    }


def _indicator_report(item: dict[str, Any], cycles: list[ServiceCycle],
                      results: dict[tuple[int, str], IndicatorResult]) -> dict[str, Any]:
    rows = [_cycle_row(cycle, item["key"], results.get((cycle.id, item["key"]))) for cycle in cycles]
    checked = [row for row in rows if row["status"] is not None]
    return {
        "key": item["key"], "name": item["name"], "kind": item["kind"], "unit": item["unit"],
        "direction": item["direction"], "target": item["target"], "cycles": rows,
        "met": sum(row["status"] == "met" for row in checked),
        "missed": sum(row["status"] == "missed" for row in checked),
        "trend": indicators.trend([row["value"] for row in checked], item["direction"], item["target"]),
    }


def _cycle_row(cycle: ServiceCycle, key: str, result: IndicatorResult | None) -> dict[str, Any]:
    target = next((item["target"] for item in cycle.standard if item["key"] == key), None)
    return {
        "cycle": cycle.number, "cycle_status": cycle.status, "target": target,
        "value": result.value if result else None, "samples": result.samples if result else None,
        "status": result.status if result else None, "escalated": bool(result and result.escalated),
    }


def cycle_indicators(session: Session, cycle: ServiceCycle) -> list[dict[str, Any]]:
    """A cycle's indicators: as checked, or — before the check — as they stand now, unclassified."""
    results = _results(session, [cycle])
    rows = []
    for item in cycle.standard:
        result = results.get((cycle.id, item["key"]))
        computed = indicators.Computed(result.value, result.samples) if result else compute(session, cycle, item)
        rows.append({**{k: item[k] for k in ("key", "name", "kind", "unit", "target", "direction")},
                     "value": computed.value, "samples": computed.samples, "status": result.status if result else None,
                     "escalated": bool(result and result.escalated)})
    return rows


def requests_in_time(session: Session, series: ServiceSeries, cycles: list[ServiceCycle], now: datetime) -> dict[str, Any]:
    """Answered within ``answer_hours`` of filing; an unanswered request counts as late once overdue.

    Requests still within their time are pending and left out of the share, which is None (no
    data) when no request has been answered or become overdue.
    """
    allowed = timedelta(hours=series.answer_hours)
    requests = session.scalars(select(ServiceRequest).where(ServiceRequest.cycle_id.in_([c.id for c in cycles])))
    in_time = late = pending = 0
    for request in requests:
        waited = (request.answered_at or now) - request.filed_at
        if waited > allowed:
            late += 1
        elif request.answered_at is not None:
            in_time += 1
        else:
            pending += 1
    judged = in_time + late
    return {"answer_hours": series.answer_hours, "answered_in_time": in_time, "late": late, "pending": pending,
            "share_answered_in_time": round(100 * in_time / judged, indicators.DECIMALS) if judged else None}


def report_csv(session: Session, series: ServiceSeries) -> str:
    """One line per cycle and indicator, for spreadsheets; no data is an empty value."""
    cycles = _cycles(session, series)
    results = _results(session, cycles)
    versions = dict(session.execute(select(Definition.id, Definition.version).where(
        Definition.id.in_({c.decision_id for c in cycles}))).all())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for cycle in cycles:
        for item in cycle.standard:
            result = results.get((cycle.id, item["key"]))
            writer.writerow([
                series.id, _cell(series.service), cycle.number, cycle.status, cycle.starts_at.isoformat(), item["key"],
                _cell(item["name"]), _cell(item["unit"]), item["kind"], item["direction"], item["target"],
                "" if result is None or result.value is None else result.value, "" if result is None else result.samples,
                "" if result is None else result.status, "" if result is None else str(result.escalated).lower(),
                versions[cycle.decision_id],
            ])
    return out.getvalue()


def chart_png(session: Session, series: ServiceSeries, key: str) -> bytes:
    """A line of the indicator's value per cycle, each point coloured by its classification, against the target.

    Cycles not checked yet have no point; a cycle without data has none either, and the line skips it.
    """
    item = next((i for i in series.standard if i["key"] == key), None)
    if item is None:
        raise NotFound(f"the series has no indicator {key!r}")
    cycles = _cycles(session, series)
    report = _indicator_report(item, cycles, _results(session, cycles))
    figure = Figure(figsize=(6.4, 3.6), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    numbers = [row["cycle"] for row in report["cycles"]]
    axes.step(numbers, [row["target"] for row in report["cycles"]], where="mid", color="#455a64", linestyle="--",
              label=f"target ({'≥' if item['direction'] == 'at_least' else '≤'})")
    measured = [row for row in report["cycles"] if row["value"] is not None]
    axes.plot([row["cycle"] for row in measured], [row["value"] for row in measured], color="#1565c0", label="value")
    for status, colour in COLOURS.items():
        points = [row for row in measured if row["status"] == status]
        if points:
            axes.scatter([row["cycle"] for row in points], [row["value"] for row in points], color=colour, zorder=3, label=status)
    axes.set_title(f"{series.service} — {item['name']} (trend: {report['trend'].replace('_', ' ')})",
                   fontfamily=_fonts(), fontsize=10)
    axes.set_xlabel("cycle")
    axes.set_ylabel(item["unit"], fontfamily=_fonts())
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(loc="best", fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _fonts() -> list[str]:
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return [name for name in CJK_FONTS if name in installed] + ["DejaVu Sans"]


def _cycles(session: Session, series: ServiceSeries) -> list[ServiceCycle]:
    return list(session.scalars(select(ServiceCycle).where(ServiceCycle.series_id == series.id).order_by(ServiceCycle.number)))


def _results(session: Session, cycles: list[ServiceCycle]) -> dict[tuple[int, str], IndicatorResult]:
    rows = session.scalars(select(IndicatorResult).where(IndicatorResult.cycle_id.in_([c.id for c in cycles])))
    return {(row.cycle_id, row.key): row for row in rows}


def _open_actions(session: Session, cycles: list[ServiceCycle]) -> list[CorrectiveAction]:
    return list(session.scalars(select(CorrectiveAction).where(
        CorrectiveAction.cycle_id.in_([c.id for c in cycles]), CorrectiveAction.status != "closed").order_by(CorrectiveAction.id)))


def _action(action: CorrectiveAction, cycles: list[ServiceCycle]) -> dict[str, Any]:
    number = next(c.number for c in cycles if c.id == action.cycle_id)
    return {"id": action.id, "cycle": number, "indicator": action.indicator, "description": action.description,
            "owner_id": action.owner_id, "due_date": action.due_date.isoformat(), "status": action.status}


def _cell(text: str) -> str:
    """Committee-written text, defused for spreadsheets that would run a cell starting with = + - or @."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text
