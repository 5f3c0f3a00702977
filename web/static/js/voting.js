// Votes (表决): progressive enhancements only. Every page works without this script.
// - the live turnout, refreshed every 15 s from the page's JSON (counts only);
// - a ranked ballot reordered by drag and drop (SortableJS) or by move-up/move-down buttons, written back into the
//   number selects, which are what the form posts;
// - the receipt's copy and print buttons.

const REFRESH_MS = 15000;

function refreshTurnout() {
  const box = document.querySelector("[data-turnout-url]");
  if (!box || box.hasAttribute("data-turnout-final")) return;
  const cast = box.querySelector("[data-turnout-cast]");
  const eligible = box.querySelector("[data-turnout-eligible]");
  const update = async () => {
    if (document.hidden) return;
    try {
      const response = await fetch(box.dataset.turnoutUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) return;
      const turnout = await response.json();
      if (cast) cast.textContent = String(turnout.cast);
      if (eligible) eligible.textContent = String(turnout.eligible);
    } catch (_) {
      // offline for a moment: the number shown stays as it was
    }
  };
  window.setInterval(update, REFRESH_MS);
}

function enhanceRanking() {
  const list = document.querySelector("[data-ranking]");
  if (!list) return;
  const status = document.querySelector("[data-ranking-status]");
  const items = () => Array.from(list.querySelectorAll(".ranking__item"));
  const select = (item) => item.querySelector("select");
  const name = (item) => item.querySelector("label").textContent.trim();
  const say = (text) => { if (status) status.textContent = text; };

  // The list follows the selects: ranked options first, in rank order, then the unranked ones.
  const sortBySelects = () => {
    const ordered = items().map((item, index) => ({ item, index, rank: Number(select(item).value) || Infinity }))
      .sort((a, b) => a.rank - b.rank || a.index - b.index);
    ordered.forEach(({ item }) => list.appendChild(item));
  };

  // The selects follow the list: every option down to the lowest one ranked (the moved one included) is ranked in
  // the list's order; those below stay unranked.
  const writeSelects = (moved) => {
    const all = items();
    let last = -1;
    all.forEach((item, i) => { if (select(item).value !== "" || item === moved) last = i; });
    all.forEach((item, i) => { select(item).value = i <= last ? String(i + 1) : ""; });
    if (moved) {
      const chosen = select(moved);
      const rank = chosen.value ? chosen.options[chosen.selectedIndex].text : list.dataset.unranked;
      say(list.dataset.moved.replace("{option}", name(moved)).replace("{rank}", rank));
    }
  };

  const move = (item, step) => {
    const all = items();
    const to = all.indexOf(item) + step;
    if (to < 0 || to >= all.length) return;
    if (step < 0) list.insertBefore(item, all[to]);
    else list.insertBefore(item, all[to].nextSibling);
    writeSelects(item);
  };

  items().forEach((item) => {
    const moves = document.createElement("div");
    moves.className = "ranking__moves";
    for (const [step, label, arrow] of [[-1, list.dataset.up, "↑"], [1, list.dataset.down, "↓"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button button--secondary ranking__move";
      button.textContent = arrow;
      button.setAttribute("aria-label", label.replace("{option}", name(item)));
      button.addEventListener("click", () => { move(item, step); button.focus(); });
      moves.appendChild(button);
    }
    if (window.Sortable) {
      const handle = document.createElement("span");
      handle.className = "ranking__handle";
      handle.setAttribute("aria-hidden", "true");
      handle.title = list.dataset.drag;
      handle.textContent = "⠿";
      item.prepend(handle);
    }
    item.appendChild(moves);
    select(item).addEventListener("change", () => { sortBySelects(); select(item).focus(); });
  });

  sortBySelects();
  if (window.Sortable) {
    window.Sortable.create(list, {
      handle: ".ranking__handle",
      animation: 150,
      ghostClass: "ranking__item--ghost",
      chosenClass: "ranking__item--chosen",
      onEnd: (event) => writeSelects(event.item),
    });
  }
}

function enhanceReceipt() {
  const copy = document.querySelector("[data-copy]");
  const status = document.querySelector("[data-copy-status]");
  if (copy && navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener("click", async () => {
      const code = document.getElementById(copy.dataset.copy);
      try {
        await navigator.clipboard.writeText(code.textContent.trim());
        if (status) status.textContent = copy.dataset.copied;
        copy.textContent = copy.dataset.copied;
      } catch (_) {
        window.getSelection().selectAllChildren(code);
      }
    });
  }
  const print = document.querySelector("[data-print]");
  if (print) {
    print.hidden = false;
    print.addEventListener("click", () => window.print());
  }
}

refreshTurnout();
enhanceRanking();
enhanceReceipt();
