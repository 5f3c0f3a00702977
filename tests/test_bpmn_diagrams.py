"""The bundled process diagrams (processes/*.bpmn) as the vendored bpmn-js viewer draws them.

* The moddle descriptor web/static/js/bpmn/spiffworkflow-moddle.json types every ``spiffworkflow:`` element of
  every bundled process: imported into bpmn-js with it and exported again, each element is still there, typed
  (not a generic element the viewer only carries along), with its attributes and text.
* The diagram interchange is clean, computed from the DI with lxml (no browser): no external label overlaps
  another label or a shape, crosses a lane or subprocess border or lies under a sequence flow; no boundary event
  sits on its subprocess's title; no flow runs through a lane that is neither its source's nor its target's.
* What the viewer draws matches the DI: each external label's text lies within its DI bounds (so the geometry
  above is the drawing's), and no task's name runs under the task's icon.

The browser tests run Debian's chromium through Playwright (``scripts/ensure-chromium``); each leaves a
screenshot of the diagram in var/diagrams/ (gitignored) for a human to look at. bpmnlint runs from
scripts/test (scripts/lint-bpmn).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = sorted((ROOT / "processes").glob("*.bpmn"))
VIEWER = ROOT / "web" / "static" / "vendor" / "bpmn-js"
DESCRIPTOR = ROOT / "web" / "static" / "js" / "bpmn" / "spiffworkflow-moddle.json"
SHOTS = ROOT / "var" / "diagrams"

SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI"}
CONTAINERS = {"participant", "lane", "subProcess"}

Rect = tuple[float, float, float, float]  # x1, y1, x2, y2


# --- the moddle descriptor ------------------------------------------------------------------------------------


def test_the_descriptor_is_for_the_namespace_the_processes_use() -> None:
    descriptor = json.loads(DESCRIPTOR.read_text(encoding="utf-8"))
    assert (descriptor["prefix"], descriptor["uri"]) == ("spiffworkflow", SPIFF)
    types = {t["name"] for t in descriptor["types"]}
    used = {etree.QName(el).localname for path in PROCESSES for el in etree.parse(str(path)).iter(f"{{{SPIFF}}}*")}
    assert used and used <= types, f"spiffworkflow elements without a type: {sorted(used - types)}"


def spiff_elements(xml: bytes) -> Counter[tuple[Any, ...]]:
    """Every spiffworkflow element: the id of the BPMN element it belongs to, its path, attributes and text."""
    found: Counter[tuple[Any, ...]] = Counter()
    for el in etree.fromstring(xml).iter(f"{{{SPIFF}}}*"):
        path, owner = [], el
        while owner is not None and etree.QName(owner).namespace == SPIFF:
            path.append(etree.QName(owner).localname)
            owner = owner.getparent()
        while owner is not None and owner.get("id") is None:
            owner = owner.getparent()
        found[(owner.get("id") if owner is not None else None, "/".join(reversed(path)),
               tuple(sorted(el.attrib.items())), (el.text or "").strip())] += 1
    return found


# --- the browser --------------------------------------------------------------------------------------------

IMPORT = """async ([xml, descriptor]) => {
    const viewer = new BpmnJS({container: '#canvas', moddleExtensions: {spiffworkflow: descriptor}});
    const {warnings} = await viewer.importXML(xml);
    // every spiffworkflow object the model holds, and whether moddle typed it
    const spiff = [], seen = new Set();
    const walk = (value) => {
        if (!value || typeof value !== 'object' || seen.has(value)) return;
        seen.add(value);
        if (Array.isArray(value)) { value.forEach(walk); return; }
        if (typeof value.$type === 'string' && value.$type.startsWith('spiffworkflow:')) {
            spiff.push({type: value.$type, typed: !value.$descriptor.isGeneric});
        }
        for (const key of Object.keys(value)) {
            if (key !== '$parent' && key !== '$model' && key !== '$descriptor' && key !== 'di') walk(value[key]);
        }
        if (value.$children) walk(value.$children);
    };
    walk(viewer.getDefinitions());
    const {xml: exported} = await viewer.saveXML({format: true});
    // what the viewer drew: external labels' text boxes, and tasks' text against their icons (diagram coordinates)
    const registry = viewer.get('elementRegistry'), labels = {}, icons = {};
    const box = (node) => node.getBBox();
    for (const element of registry.getAll()) {
        const gfx = registry.getGraphics(element);
        const text = gfx && gfx.querySelector('.djs-visual text');
        if (!text || !text.textContent.trim()) continue;
        const b = box(text);
        if (element.type === 'label') {
            labels[element.businessObject.id] = [element.x + b.x, element.y + b.y, element.x + b.x + b.width,
                                                 element.y + b.y + b.height];
        } else if (/Task$/.test(element.type) || element.type === 'bpmn:CallActivity') {
            const paths = [...gfx.querySelectorAll('.djs-visual path')].map(box).filter(p => p.width > 0);
            if (!paths.length) continue;
            const icon = [Math.min(...paths.map(p => p.x)), Math.min(...paths.map(p => p.y)),
                          Math.max(...paths.map(p => p.x + p.width)), Math.max(...paths.map(p => p.y + p.height))];
            icons[element.id] = {text: [b.x, b.y, b.x + b.width, b.y + b.height], icon};
        }
    }
    const canvas = viewer.get('canvas'), inner = canvas.viewbox().inner;
    canvas.viewbox({x: inner.x - 10, y: inner.y - 10, width: 4000, height: 1000});  // 1:1, the page's size
    return {warnings: warnings.map(w => w.message), spiff, exported, labels, icons,
            size: [inner.width + 20, inner.height + 20]};
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (scripts/ensure-chromium installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def drawn(browser: Any) -> dict[str, dict[str, Any]]:
    """Each bundled diagram imported into the vendored viewer with the descriptor, exported, measured, screenshot."""
    descriptor = json.loads(DESCRIPTOR.read_text(encoding="utf-8"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    results = {}
    for path in PROCESSES:
        page = browser.new_page(viewport={"width": 4000, "height": 1000})
        page.set_content('<html><body><div id="canvas"></div></body></html>')
        page.add_style_tag(path=str(VIEWER / "diagram-js.css"))
        page.add_style_tag(path=str(VIEWER / "bpmn-js.css"))
        page.add_style_tag(content="body { margin: 0; background: #fff } #canvas { width: 4000px; height: 1000px }")
        page.add_script_tag(path=str(VIEWER / "bpmn-viewer.production.min.js"))
        result = page.evaluate(IMPORT, [path.read_text(encoding="utf-8"), descriptor])
        width, height = result["size"]
        page.screenshot(path=str(SHOTS / f"{path.stem}.png"),
                        clip={"x": 0, "y": 0, "width": min(width, 4000), "height": min(height, 1000)})
        page.close()
        results[path.stem] = result
    return results


@pytest.mark.parametrize("path", PROCESSES, ids=lambda p: p.stem)
def test_every_spiffworkflow_element_is_typed_and_kept_on_a_round_trip(drawn: dict[str, Any], path: Path) -> None:
    result = drawn[path.stem]
    assert result["warnings"] == []
    original = spiff_elements(path.read_bytes())
    assert original, "a bundled process without spiffworkflow extensions?"
    untyped = sorted({e["type"] for e in result["spiff"] if not e["typed"]})
    assert untyped == [], f"the descriptor does not type {untyped}"
    assert len(result["spiff"]) == sum(original.values())
    assert spiff_elements(result["exported"].encode()) == original


@pytest.mark.parametrize("path", PROCESSES, ids=lambda p: p.stem)
def test_the_drawn_labels_lie_within_their_di_bounds(drawn: dict[str, Any], path: Path) -> None:
    bounds = {shape.get("bpmnElement"): rect(label) for shape, label in labelled(etree.parse(str(path)))}
    slack = 3
    outside = {element: (drawn_box, bounds[element]) for element, drawn_box in drawn[path.stem]["labels"].items()
               if element in bounds and not inside(drawn_box, grow(bounds[element], slack))}
    assert outside == {}, "labels drawn outside their DI bounds (text box, DI bounds)"


@pytest.mark.parametrize("path", PROCESSES, ids=lambda p: p.stem)
def test_no_task_name_runs_under_its_icon(drawn: dict[str, Any], path: Path) -> None:
    covered = sorted(task for task, seen in drawn[path.stem]["icons"].items() if overlap(seen["text"], seen["icon"]))
    assert covered == []


# --- the diagram interchange, from the XML alone ------------------------------------------------------------------


def rect(bounds: etree._Element) -> Rect:
    x, y, w, h = (float(bounds.get(k)) for k in ("x", "y", "width", "height"))
    return (x, y, x + w, y + h)


def grow(r: Rect, by: float) -> Rect:
    return (r[0] - by, r[1] - by, r[2] + by, r[3] + by)


def overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def inside(a: Rect, b: Rect) -> bool:
    return b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3]


def crosses(segment: tuple[tuple[float, float], tuple[float, float]], r: Rect) -> bool:
    """Whether an axis-parallel (or any) segment passes through the rectangle (sampled finely enough for DI)."""
    (x1, y1), (x2, y2) = segment
    steps = int(max(abs(x2 - x1), abs(y2 - y1))) + 1
    return any(r[0] < x1 + (x2 - x1) * i / steps < r[2] and r[1] < y1 + (y2 - y1) * i / steps < r[3]
               for i in range(steps + 1))


def labelled(tree: etree._ElementTree) -> list[tuple[etree._Element, etree._Element]]:
    return [(el, el.find("bpmndi:BPMNLabel/dc:Bounds", NS)) for el in tree.iter(f"{{{NS['bpmndi']}}}*")
            if el.find("bpmndi:BPMNLabel/dc:Bounds", NS) is not None]


class Layout:
    """The DI of one diagram: shapes by kind, labels, flows' segments, lanes."""

    def __init__(self, path: Path) -> None:
        tree = etree.parse(str(path))
        self.kind = {el.get("id"): etree.QName(el).localname for el in tree.iter(f"{{{NS['bpmn']}}}*") if el.get("id")}
        self.model = {el.get("id"): el for el in tree.iter(f"{{{NS['bpmn']}}}*") if el.get("id")}
        self.shapes = {el.get("bpmnElement"): rect(el.find("dc:Bounds", NS))
                       for el in tree.iterfind(".//bpmndi:BPMNShape", NS)}
        self.labels = {el.get("bpmnElement"): rect(bounds) for el, bounds in labelled(tree)}
        self.flows = {el.get("bpmnElement"): [(float(w.get("x")), float(w.get("y")))
                                              for w in el.iterfind("di:waypoint", NS)]
                      for el in tree.iterfind(".//bpmndi:BPMNEdge", NS)}

    def containers(self) -> dict[str, Rect]:
        return {e: r for e, r in self.shapes.items() if self.kind.get(e) in CONTAINERS}

    def things(self) -> dict[str, Rect]:
        return {e: r for e, r in self.shapes.items() if self.kind.get(e) not in CONTAINERS}

    def lane_of(self, element: str) -> str | None:
        for lane_id, node in self.model.items():
            if self.kind[lane_id] == "lane" and element in [ref.text for ref in node.iterfind("bpmn:flowNodeRef", NS)]:
                return lane_id
        parent = self.model[element].getparent()
        return self.lane_of(parent.get("id")) if parent is not None and parent.get("id") in self.model else None

    def lane_at(self, point: tuple[float, float]) -> str | None:
        for lane_id, r in self.shapes.items():
            if self.kind.get(lane_id) == "lane" and r[0] <= point[0] <= r[2] and r[1] <= point[1] <= r[3]:
                return lane_id
        return None


def problems_of(layout: Layout) -> list[str]:
    found = []
    labels = sorted(layout.labels.items())
    for i, (a, ra) in enumerate(labels):
        for b, rb in labels[i + 1:]:
            if overlap(ra, rb):
                found.append(f"the labels of {a} and {b} overlap")
        for shape, rs in layout.things().items():
            if overlap(ra, rs):
                found.append(f"the label of {a} overlaps {shape}")
        for container, rc in layout.containers().items():
            if overlap(ra, rc) and not inside(ra, rc):
                found.append(f"the label of {a} crosses the border of {container}")
        for flow, points in layout.flows.items():
            if any(crosses(segment, ra) for segment in zip(points, points[1:])):
                found.append(f"the flow {flow} runs through the label of {a}")
    for event, r in layout.things().items():
        host = layout.model[event].get("attachedToRef") if layout.kind.get(event) == "boundaryEvent" else None
        if host and layout.kind.get(host) == "subProcess" and host in layout.shapes:
            hx1, hy1, hx2, _ = layout.shapes[host]
            title = len(layout.model[host].get("name", "")) * 7 / 2 + 10  # half the title's width, generously
            middle = (hx1 + hx2) / 2
            if overlap(r, (middle - title, hy1 - 1, middle + title, hy1 + 25)):
                found.append(f"the boundary event {event} sits on the title of {host}")
    for flow, points in layout.flows.items():
        ends = {layout.lane_of(layout.model[flow].get(side)) for side in ("sourceRef", "targetRef")}
        strays = {layout.lane_at(p) for p in points} - ends - {None}
        if strays and None not in ends:
            found.append(f"the flow {flow} runs through {sorted(strays)}")
    return found


@pytest.mark.parametrize("path", PROCESSES, ids=lambda p: p.stem)
def test_the_diagram_interchange_is_clean(path: Path) -> None:
    assert problems_of(Layout(path)) == []


def test_the_check_finds_the_defects_the_pdca_diagram_had(tmp_path: Path) -> None:
    """The geometry test can fail: the pdca diagram as it was before its layout was fixed."""
    before = tmp_path / "pdca.bpmn"
    before.write_text((Path(__file__).parent / "diagrams" / "pdca_before.bpmn").read_text(encoding="utf-8"),
                      encoding="utf-8")
    found = problems_of(Layout(before))
    assert "the boundary event escalated sits on the title of escalation_check" in found
    assert "the label of not_escalated crosses the border of escalation_check" in found
    assert "the flow flow_nothing_missed runs through the label of escalation_settled" in found
    assert "the flow flow_series_continues runs through ['lane_street_office']" in found
    assert "the flow flow_nothing_missed runs through ['lane_street_office']" in found
