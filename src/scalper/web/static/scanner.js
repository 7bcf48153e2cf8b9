// The scanner: every symbol in a sortable table, virtualised (only the rows in view are in the
// DOM, in a fixed pool) and updated in place (a cell is written only when its text changed), in
// one animation frame every 250 ms at most (longer while the page is over its long-task budget). Re-sorting pauses while the pointer is over the rows or while
// "Freeze" is on; a search box filters by symbol; starred symbols (the watchlist, kept in
// localStorage) sort first and "★ only" shows them alone.

export const IMBALANCE_HIGH = 0.6; // the engine's bid_pressure / ask_pressure thresholds
export const IMBALANCE_LOW = 0.4;
const ROW_HEIGHT = 19; // px, fixed by style.css (#scanner .row)
const OVERSCAN = 2; // rows rendered above and below the visible ones
const WATCHLIST_KEY = "scalper.watchlist";
const MIN_RENDER_MS = 250; // data updates redraw at most this often (the stream's tick)
const MAX_RENDER_MS = 2000;
const LONG_TASK_BUDGET_MS = 50; // per second: above it the scanner redraws less often

const REGIME_SHORT = {
  warming_up: "…", low: "lo", normal: "n", high: "hi", extreme: "ex",
  down: "↓", range: "→", up: "↑", quiet: "q", active: "a", surge: "s!",
};
// The trader's machine states, short (the full name is the cell's title).
const MACHINE_SHORT = {
  idle: "idle", scanning: "scan", signal_detected: "signal", position_entry: "entry",
  entry_cancel_pending: "entry×", in_position: "IN POS", position_exit: "exit",
  exit_cancel_pending: "exit×", cooldown: "cool", halted: "halt",
};
const sign = (value) => (value > 0 ? "pos" : value < 0 ? "neg" : "");

function regimeHtml(row) {
  return ["volatility_regime", "trend_regime", "volume_regime"]
    .map((key) => {
      const state = row[key];
      if (!state) return "";
      return `<span class="mini" data-state="${state}" title="${key.replace("_regime", "")}: ${state}">${REGIME_SHORT[state] ?? state}</span>`;
    })
    .join("");
}

export function imbalanceClass(value) {
  if (value === null || value === undefined) return "";
  return value > IMBALANCE_HIGH ? "pos" : value < IMBALANCE_LOW ? "neg" : "";
}

// Column definitions: sort key, header, cell -> [text or html, class, title].
function columns({ fmt, compact, price }) {
  const pct = (value, digits) => (value == null ? "—" : `${fmt(value * 100, digits)}%`);
  return [
    { key: "watch", label: "★", title: "watchlist (kept in this browser)", cls: "watch",
      cell: (row, ctx) => [ctx.watched.has(row.symbol) ? "★" : "☆", ctx.watched.has(row.symbol) ? "on" : ""] },
    { key: "symbol", label: "Symbol", cell: (row) => [row.symbol, ""] },
    { key: "machine", label: "State", cls: "trading-col machine", title: "the paper trader's state machine for the symbol",
      cell: (row) => [MACHINE_SHORT[row.machine] ?? "—", "", row.machine ?? "", row.machine ?? ""] },
    { key: "mid", label: "Mid", num: true, cell: (row) => [row.mid == null ? "—" : price(row.symbol, row.mid), ""] },
    { key: "spread_bps", label: "Sprd bps", num: true, cell: (row) => [fmt(row.spread_bps, 2), ""] },
    { key: "imbalance", label: "Imb", num: true, title: "top-10 imbalance bid/(bid+ask): green above 0.6, red below 0.4 (the engine's thresholds)",
      cell: (row) => [fmt(row.imbalance, 3), imbalanceClass(row.imbalance)] },
    { key: "score", label: "Score", num: true, cls: "score", title: "signal score in [-1, 1]",
      cell: (row) => [row.score == null ? (row.direction ? "warm" : "—") : fmt(row.score, 2),
        row.direction === "long" ? "pos" : row.direction === "short" ? "neg" : ""] },
    { key: "confluence", label: "Cf", num: true, title: "factors agreeing with the direction", cell: (row) => [String(row.confluence ?? "—"), ""] },
    { key: "volatility_regime", label: "Regimes", cls: "regimes", title: "volatility · trend · volume regimes", html: true,
      cell: (row) => [regimeHtml(row), ""] },
    { key: "delta_1m", label: "Δ 1m", num: true, cell: (row) => [compact(row.delta_1m), sign(row.delta_1m)] },
    { key: "volume_5m", label: "Vol 5m", num: true, cell: (row) => [compact(row.volume_5m), ""] },
    { key: "change_24h", label: "24h", num: true, title: "price change over 24 h (ticker)",
      cell: (row) => [pct(row.change_24h, 2), sign(row.change_24h)] },
    { key: "funding_rate", label: "Fund", num: true, title: "funding rate per interval (ticker)",
      cell: (row) => [pct(row.funding_rate, 4), sign(row.funding_rate)] },
    { key: "open_interest_value", label: "OI", num: true, title: "open interest, quote currency (ticker)",
      cell: (row) => [compact(row.open_interest_value), ""] },
    { key: "last_update_age_ms", label: "Age ms", num: true, cell: (row) => [fmt(row.last_update_age_ms, 0), ""] },
  ];
}

function loadWatchlist() {
  try {
    const saved = JSON.parse(localStorage.getItem(WATCHLIST_KEY) || "[]");
    return new Set(Array.isArray(saved) ? saved : []);
  } catch {
    return new Set();
  }
}

export function createScanner({ rows, selected, onSelect, fmt, compact, price }) {
  const table = document.querySelector("#scanner");
  const panel = document.querySelector("#scanner-wrap");
  const body = table.querySelector(".sbody");
  const search = document.querySelector("#scanner-search");
  const freezeButton = document.querySelector("#btn-freeze");
  const onlyButton = document.querySelector("#btn-watch-only");
  const cols = columns({ fmt, compact, price });
  const ctx = { watched: loadWatchlist() };
  const state = {
    sortKey: "imbalance", sortDesc: true, frozen: false, hovering: false, filter: "", watchOnly: false,
    order: [], renders: 0, cellWrites: 0,
  };
  let dirty = false;
  let resort = true;
  let lastRender = -Infinity;
  // The page's long tasks (PerformanceObserver) set the scanner's redraw interval: it stretches
  // while the page spends more than the budget in long tasks and shrinks back when it does not.
  let longMs = 0;
  state.intervalMs = MIN_RENDER_MS;
  if (PerformanceObserver.supportedEntryTypes?.includes("longtask")) {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) longMs += entry.duration;
    }).observe({ type: "longtask" });
    setInterval(() => {
      const interval = longMs > LONG_TASK_BUDGET_MS ? state.intervalMs * 1.5 : state.intervalMs / 1.25;
      state.intervalMs = Math.round(Math.min(MAX_RENDER_MS, Math.max(MIN_RENDER_MS, interval)));
      table.dataset.intervalMs = String(state.intervalMs);
      longMs = 0;
    }, 1000);
  }

  // Rows are absolutely placed grid rows with layout and paint contained (no table: a table
  // cell's change lays out and repaints the whole table, and with it the page).
  const head = table.querySelector(".shead");
  head.innerHTML = cols
    .map((c) => `<div data-sort="${c.key}" class="th ${[c.num ? "num" : "", c.cls ?? ""].join(" ").trim()}"` +
      `${c.title ? ` title="${c.title}"` : ""}>${c.label}</div>`)
    .join("");
  const pool = []; // the rendered rows, each with its cells and their last written values

  function sortValue(row, key) {
    if (key === "watch") return ctx.watched.has(row.symbol) ? 1 : 0;
    return row[key];
  }
  function compare(a, b) {
    const watch = ctx.watched.has(b.symbol) - ctx.watched.has(a.symbol);
    if (watch) return watch;
    const x = sortValue(a, state.sortKey);
    const y = sortValue(b, state.sortKey);
    if (x === null || x === undefined) return y === null || y === undefined ? 0 : 1;
    if (y === null || y === undefined) return -1;
    const order = typeof x === "string" ? x.localeCompare(y) : x - y;
    return state.sortDesc ? -order : order;
  }
  function visibleSymbols() {
    const paused = state.frozen || state.hovering;
    if (resort || !paused || state.order.length === 0) {
      state.order = [...rows.values()].sort(compare).map((row) => row.symbol);
      resort = false;
    } else if (state.order.length !== rows.size) {
      const known = new Set(state.order);
      for (const symbol of rows.keys()) if (!known.has(symbol)) state.order.push(symbol);
    }
    const filter = state.filter;
    return state.order.filter(
      (symbol) => (!filter || symbol.includes(filter)) && (!state.watchOnly || ctx.watched.has(symbol)),
    );
  }

  // A symbol keeps its DOM row while it stays in view: a re-sort only moves rows (transform),
  // and a row under the pointer or a click is always the same symbol's.
  const bySymbol = new Map(); // symbol -> pool entry
  const free = [];
  function newEntry() {
    const tr = document.createElement("div");
    tr.className = "row";
    const cells = cols.map((c) => {
      const td = document.createElement("span");
      td.className = ["c", c.num ? "num" : "", c.cls ?? ""].join(" ").trim();
      tr.append(td);
      return { td, text: null, cls: null, base: td.className, title: null, state: null };
    });
    body.append(tr);
    const entry = { tr, cells, symbol: null, top: null };
    pool.push(entry);
    return entry;
  }

  function write(cell, column, row) {
    const [text, cls, title, dataState] = column.cell(row, ctx);
    if (text !== cell.text) {
      if (column.html) cell.td.innerHTML = text;
      else cell.td.textContent = text;
      cell.text = text;
      state.cellWrites += 1;
    }
    if (cls !== cell.cls) {
      cell.td.className = `${cell.base} ${cls}`.trim();
      cell.cls = cls;
    }
    if (title !== undefined && title !== cell.title) {
      cell.td.title = title;
      cell.title = title;
    }
    if (dataState !== undefined && dataState !== cell.state) {
      cell.td.dataset.state = dataState;
      cell.state = dataState;
    }
  }

  function render() {
    dirty = false;
    lastRender = performance.now();
    state.renders += 1;
    const list = visibleSymbols();
    const offset = body.offsetTop; // the header's height: the rows start below it
    const first = Math.max(0, Math.floor((panel.scrollTop - offset) / ROW_HEIGHT) - OVERSCAN);
    const count = Math.ceil(panel.clientHeight / ROW_HEIGHT) + 2 * OVERSCAN;
    const last = Math.min(list.length, first + count);
    const height = `${list.length * ROW_HEIGHT}px`;
    if (body.style.height !== height) body.style.height = height;
    const current = selected();
    const wanted = list.slice(first, last);
    const keep = new Set(wanted);
    for (const [symbol, entry] of bySymbol) {
      if (keep.has(symbol)) continue;
      bySymbol.delete(symbol);
      entry.symbol = null;
      entry.tr.hidden = true;
      delete entry.tr.dataset.symbol;
      free.push(entry);
    }
    wanted.forEach((symbol, i) => {
      let entry = bySymbol.get(symbol);
      if (!entry) {
        entry = free.pop() ?? newEntry();
        bySymbol.set(symbol, entry);
        entry.symbol = symbol;
        entry.tr.dataset.symbol = symbol;
        entry.tr.hidden = false;
      }
      const index = first + i;
      if (entry.top !== index) {
        entry.tr.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
        entry.tr.dataset.index = String(index);
        entry.top = index;
      }
      const row = rows.get(symbol);
      entry.tr.classList.toggle("selected", symbol === current);
      entry.tr.classList.toggle("watched", ctx.watched.has(symbol));
      cols.forEach((column, k) => write(entry.cells[k], column, row));
    });
    for (const th of head.querySelectorAll("[data-sort]")) {
      th.classList.toggle("sorted", th.dataset.sort === state.sortKey);
      th.classList.toggle("asc", th.dataset.sort === state.sortKey && !state.sortDesc);
    }
    table.dataset.frozen = String(state.frozen || state.hovering);
    table.dataset.shown = String(list.length);
  }

  // Data changes coalesce: one render in the first animation frame MIN_RENDER_MS after the last.
  const markDirty = () => {
    if (dirty) return;
    dirty = true;
    const wait = lastRender + state.intervalMs - performance.now();
    if (wait > 0) setTimeout(() => requestAnimationFrame(render), wait);
    else requestAnimationFrame(render);
  };
  // Scrolling, resizing and the pointer leaving redraw in the next frame, whatever the interval.
  let moved = false;
  const markMoved = () => {
    if (moved) return;
    moved = true;
    requestAnimationFrame(() => {
      moved = false;
      render();
    });
  };
  const renderNow = () => {
    resort = true;
    render();
  };

  head.addEventListener("click", (event) => {
    const th = event.target.closest("[data-sort]");
    if (!th) return;
    if (state.sortKey === th.dataset.sort) state.sortDesc = !state.sortDesc;
    else {
      state.sortKey = th.dataset.sort;
      state.sortDesc = state.sortKey !== "symbol";
    }
    renderNow();
  });
  body.addEventListener("click", (event) => {
    const tr = event.target.closest(".row[data-symbol]");
    if (!tr) return;
    if (event.target.closest(".watch")) {
      const symbol = tr.dataset.symbol;
      if (ctx.watched.has(symbol)) ctx.watched.delete(symbol);
      else ctx.watched.add(symbol);
      localStorage.setItem(WATCHLIST_KEY, JSON.stringify([...ctx.watched].sort()));
      renderNow();
      return;
    }
    onSelect(tr.dataset.symbol);
  });
  // Rows stay in place under the pointer: no re-sorting while it is over them.
  body.addEventListener("pointerenter", () => {
    state.hovering = true;
    markDirty();
  });
  body.addEventListener("pointerleave", () => {
    state.hovering = false;
    resort = true;
    markMoved(); // the next frame shows the order of the values shown
  });
  panel.addEventListener("scroll", markMoved, { passive: true });
  search.addEventListener("input", () => {
    state.filter = search.value.trim().toUpperCase();
    renderNow();
  });
  freezeButton.addEventListener("click", () => {
    state.frozen = !state.frozen;
    freezeButton.classList.toggle("active", state.frozen);
    freezeButton.textContent = state.frozen ? "Frozen" : "Freeze";
    renderNow();
  });
  onlyButton.addEventListener("click", () => {
    state.watchOnly = !state.watchOnly;
    onlyButton.classList.toggle("active", state.watchOnly);
    renderNow();
  });
  new ResizeObserver(markMoved).observe(panel);

  return { render: renderNow, markDirty, state, watched: ctx.watched };
}
