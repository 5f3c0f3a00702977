// The auditor's view (审计): progressive enhancements only. The page shows the same path as tables without this script.
// - the instance's BPMN diagram drawn with the vendored bpmn-js viewer (window.BpmnJS, loaded by its own <script>),
//   with the spiffworkflow moddle extension, and the executed path of the page's tables marked on it: a marker class
//   per state (audit-completed, audit-ready, audit-waiting, audit-error) and a text badge, never colour alone; each
//   sequence flow taken gets the class audit-taken and its count;
// - the event slider goes to the event chosen as soon as it is let go.
// Nothing here sets a style attribute from markup: bpmn-js and these overlays style elements through the CSSOM only.

const SYMBOLS = { completed: "✓", ready: "●", waiting: "○", error: "✗" };

function pathOfPage() {
  const elements = [...document.querySelectorAll("tr[data-element-id]")]
    .map((row) => ({ id: row.dataset.elementId, state: row.dataset.state }))
    .filter((e) => e.state in SYMBOLS);
  const flows = [...document.querySelectorAll("tr[data-flow-id]")]
    .map((row) => ({ id: row.dataset.flowId, taken: Number(row.dataset.taken) }))
    .filter((f) => f.taken > 0);
  return { elements, flows };
}

function badge(text, className) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  return span;
}

function mark(viewer, box) {
  const canvas = viewer.get("canvas");
  const overlays = viewer.get("overlays");
  const registry = viewer.get("elementRegistry");
  const { elements, flows } = pathOfPage();
  for (const { id, state } of elements) {
    if (!registry.get(id)) continue;
    canvas.addMarker(id, `audit-${state}`);
    const label = box.dataset[`label${state[0].toUpperCase()}${state.slice(1)}`] || state;
    overlays.add(id, "audit-path", {
      position: { top: -14, right: 14 },
      html: badge(`${SYMBOLS[state]} ${label}`, `audit-badge audit-badge--${state}`),
    });
  }
  const taken = box.dataset.labelTaken || "{n}";
  for (const { id, taken: count } of flows) {
    const flow = registry.get(id);
    if (!flow || !flow.waypoints) continue;
    canvas.addMarker(id, "audit-taken");
    const points = flow.waypoints;
    const middle = points[Math.floor((points.length - 1) / 2)];
    const next = points[Math.floor((points.length - 1) / 2) + 1] || middle;
    const xs = points.map((p) => p.x);
    const ys = points.map((p) => p.y);
    overlays.add(id, "audit-path", {
      position: { left: (middle.x + next.x) / 2 - Math.min(...xs) + 4, top: (middle.y + next.y) / 2 - Math.min(...ys) + 4 },
      html: badge(taken.replace("{n}", String(count)), "audit-count"),
    });
  }
}

async function drawDiagram() {
  const box = document.querySelector("[data-diagram-url]");
  if (!box || typeof window.BpmnJS !== "function") return;
  const figure = box.closest("[data-figure]");
  const failed = document.querySelector("[data-diagram-error]");
  figure.hidden = false;
  try {
    const [xml, moddle] = await Promise.all([
      fetch(box.dataset.diagramUrl, { credentials: "same-origin" }).then((r) => { if (!r.ok) throw new Error(r.status); return r.text(); }),
      fetch(box.dataset.moddleUrl).then((r) => { if (!r.ok) throw new Error(r.status); return r.json(); }),
    ]);
    const viewer = new window.BpmnJS({ container: box, moddleExtensions: { spiffworkflow: moddle } });
    await viewer.importXML(xml);
    viewer.get("canvas").zoom("fit-viewport", "auto");
    mark(viewer, box);
    box.dataset.rendered = "true";
  } catch (_) {
    figure.hidden = true;
    if (failed) failed.hidden = false;
  }
}

function enhanceSlider() {
  const slider = document.querySelector("[data-as-of]");
  const shown = document.querySelector("[data-as-of-value]");
  if (!slider) return;
  slider.addEventListener("input", () => { if (shown) shown.textContent = slider.value; });
  slider.addEventListener("change", () => {
    const url = new URL(window.location.href);
    url.searchParams.set("as_of", slider.value);
    window.location.assign(url.toString());
  });
}

enhanceSlider();
drawDiagram();
