// scalper order-flow dashboard: REST for the initial state, the /ws stream for live updates.
// Plain ES module, no build step; the charting library is the vendored standalone build.
import { createHeatmap } from "./heatmap.js";
import { createTrading } from "./trading.js";

const LC = window.LightweightCharts;
const TIMEFRAMES = ["15s", "1m", "5m"];
const LADDER_DEPTH = 20;
const HEALTH_EVERY_MS = 3000;
const DETAIL_MIN_INTERVAL_MS = 500; // book/tape/candle refresh: on WS ticks, at most this often

const $ = (selector) => document.querySelector(selector);
const fmt = (value, digits = 2) =>
  value === null || value === undefined || Number.isNaN(value) ? "—" : Number(value).toFixed(digits);
// One suffix scheme everywhere (as scalper.numbers.compact): K, M, B, T, three significant digits.
const SUFFIXES = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
const compact = (value) => {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const magnitude = Math.abs(value);
  for (const [scale, suffix] of SUFFIXES) {
    if (magnitude >= scale * 0.9995) return `${Number((value / scale).toPrecision(3))}${suffix}`;
  }
  return magnitude === 0 ? "0" : String(Number(Number(value).toPrecision(3)));
};
const digitsBySymbol = new Map(); // learnt from the book's price levels (the tick size)
const guessDigits = (price) => (price >= 1000 ? 1 : price >= 10 ? 3 : price >= 1 ? 4 : 6);
const tickDigits = new Map(); // symbol -> decimals of its tick size (from /api/symbols)
const tickSizes = new Map(); // symbol -> its tick size
const decimalsOfTick = (tick) => (String(tick).split(".")[1] || "").replace(/0+$/, "").length;
const decimalsOf = (price, symbol = dash.symbol) =>
  tickDigits.get(symbol) ?? digitsBySymbol.get(symbol) ?? guessDigits(price);
const decimalsInLevels = (levels) =>
  Math.min(8, Math.max(0, ...levels.map(([price]) => (String(price).split(".")[1] || "").length)));

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok && response.status !== 503) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// ---- state exposed for tests and debugging ----
const dash = {
  symbol: null,
  timeframe: "15s",
  candles: [],
  ladderUpdates: 0,
  lastBook: null,
  stateMessages: 0,
  candleMessages: 0,
  signalMessages: 0,
  regimeMessages: 0,
  signalsUpdates: 0,
  lastSignals: null,
  ws: "connecting",
};
window.__dashboard = dash;

// ---- scanner ----
const rows = new Map(); // symbol -> row values (the /api/symbols row shape)
let sortKey = "imbalance";
let sortDesc = true;

// The scanner's flow columns: the 1m delta and 5m volume, or the engine's nearest windows
// when it is configured with others (engine.flow_windows).
const pick = (byWindow, wanted, last) => {
  if (!byWindow) return undefined;
  if (wanted in byWindow) return byWindow[wanted];
  const names = Object.keys(byWindow);
  return byWindow[last ? names[names.length - 1] : names[0]];
};

// Flow units: quote currency (USD notional) by default, coin units with the Units button.
// Rows keep both; delta_1m and volume_5m (shown and sorted) are the chosen unit's.
let flowUnit = localStorage.getItem("scalper.flowUnit") === "coin" ? "coin" : "usd";
dash.flowUnit = flowUnit;
const dollars = (value) =>
  value === null || value === undefined ? "—" : `${value < 0 ? "-" : ""}$${compact(Math.abs(value))}`;
const inUnit = (row) => ({
  ...row,
  delta_1m: flowUnit === "usd" ? row.delta_1m_usd : row.delta_1m_coin,
  volume_5m: flowUnit === "usd" ? row.volume_5m_usd : row.volume_5m_coin,
});
function showFlowUnit() {
  const usd = flowUnit === "usd";
  $("#flow-unit").textContent = usd ? "USD" : "coin";
  $("#flow-unit").title = `flows in ${usd ? "USD notional" : "coin units"}: click for ${usd ? "coin units" : "USD notional"}`;
  $("#scanner th[data-sort='delta_1m']").textContent = usd ? "Δ 1m $" : "Δ 1m";
  $("#scanner th[data-sort='volume_5m']").textContent = usd ? "Vol 5m $" : "Vol 5m";
}
$("#flow-unit").addEventListener("click", () => {
  flowUnit = flowUnit === "usd" ? "coin" : "usd";
  dash.flowUnit = flowUnit;
  localStorage.setItem("scalper.flowUnit", flowUnit);
  for (const [symbol, row] of rows) rows.set(symbol, inUnit(row));
  showFlowUnit();
  renderScanner();
  if (dash.candles.length) drawCandles(dash.candles, true);
});
showFlowUnit();

function rowFromTable(row) {
  if (row.tick_size) {
    tickDigits.set(row.symbol, decimalsOfTick(row.tick_size));
    tickSizes.set(row.symbol, Number(row.tick_size));
  }
  return inUnit({
    ...row,
    delta_1m_coin: pick(row.delta, "1m", false),
    volume_5m_coin: pick(row.volume, "5m", true),
    delta_1m_usd: pick(row.delta_quote, "1m", false),
    volume_5m_usd: pick(row.volume_quote, "5m", true),
  });
}

// A /ws "signals" message (score, direction, confluence, regimes) into the scanner's row.
function withSignals(row, summary) {
  return {
    ...row,
    score: summary.score,
    direction: summary.direction,
    confluence: summary.confluence,
    volatility_regime: summary.regimes.volatility,
    trend_regime: summary.regimes.trend,
    volume_regime: summary.regimes.volume,
  };
}

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
const regimeCell = (row) =>
  ["volatility_regime", "trend_regime", "volume_regime"]
    .map((key) => {
      const state = row[key];
      if (!state) return "";
      return `<span class="mini" data-state="${state}" title="${key.replace("_regime", "")}: ${state}">${REGIME_SHORT[state] ?? state}</span>`;
    })
    .join("");

function rowFromState(symbol, data) {
  const windows = data.windows || {};
  const delta = pick(windows, "1m", false);
  const volume = pick(windows, "5m", true);
  const previous = rows.get(symbol) || {};
  return inUnit({
    symbol,
    ...previous,
    mid: data.mid,
    spread_bps: data.spread_bps,
    imbalance: data.imbalance ? data.imbalance.values.top10 : null,
    delta_1m_coin: delta ? delta.delta : previous.delta_1m_coin,
    volume_5m_coin: volume ? volume.volume : previous.volume_5m_coin,
    delta_1m_usd: delta ? delta.delta_quote : previous.delta_1m_usd,
    volume_5m_usd: volume ? volume.volume_quote : previous.volume_5m_usd,
    last_update_age_ms: data.last_update_age_ms,
    sync_state: data.sync_state,
  });
}

let scannerDirty = false;
function renderScanner() {
  scannerDirty = false;
  const list = [...rows.values()];
  list.sort((a, b) => {
    const x = a[sortKey];
    const y = b[sortKey];
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    const order = typeof x === "string" ? x.localeCompare(y) : x - y;
    return sortDesc ? -order : order;
  });
  const body = $("#scanner tbody");
  const html = list
    .map((row) => {
      const imbalanceClass = row.imbalance > 0.55 ? "pos" : row.imbalance < 0.45 ? "neg" : "";
      const deltaClass = row.delta_1m > 0 ? "pos" : row.delta_1m < 0 ? "neg" : "";
      const scoreClass = row.direction === "long" ? "pos" : row.direction === "short" ? "neg" : "";
      const selected = row.symbol === dash.symbol ? " selected" : "";
      return (
        `<tr data-symbol="${row.symbol}" class="${selected}">` +
        `<td>${row.symbol}</td>` +
        `<td class="trading-col machine" data-state="${row.machine ?? ""}" title="${row.machine ?? ""}">${MACHINE_SHORT[row.machine] ?? "—"}</td>` +
        `<td class="num">${row.mid == null ? "—" : fmt(row.mid, decimalsOf(row.mid, row.symbol))}</td>` +
        `<td class="num">${fmt(row.spread_bps, 2)}</td>` +
        `<td class="num ${imbalanceClass}">${fmt(row.imbalance, 3)}</td>` +
        `<td class="num score ${scoreClass}">${row.score == null ? (row.direction ? "warm" : "—") : fmt(row.score, 2)}</td>` +
        `<td class="num">${row.confluence ?? "—"}</td>` +
        `<td class="regimes">${regimeCell(row)}</td>` +
        `<td class="num ${deltaClass}">${compact(row.delta_1m)}</td>` +
        `<td class="num">${compact(row.volume_5m)}</td>` +
        `<td class="num">${fmt(row.last_update_age_ms, 0)}</td></tr>`
      );
    })
    .join("");
  body.innerHTML = html;
  for (const th of document.querySelectorAll("#scanner th[data-sort]")) {
    th.classList.toggle("sorted", th.dataset.sort === sortKey);
    th.classList.toggle("asc", th.dataset.sort === sortKey && !sortDesc);
  }
}
const markScannerDirty = () => {
  if (!scannerDirty) {
    scannerDirty = true;
    requestAnimationFrame(renderScanner);
  }
};

$("#scanner thead").addEventListener("click", (event) => {
  const th = event.target.closest("th[data-sort]");
  if (!th) return;
  if (sortKey === th.dataset.sort) sortDesc = !sortDesc;
  else {
    sortKey = th.dataset.sort;
    sortDesc = sortKey !== "symbol";
  }
  renderScanner();
});
$("#scanner tbody").addEventListener("click", (event) => {
  const tr = event.target.closest("tr[data-symbol]");
  if (tr) selectSymbol(tr.dataset.symbol);
});

// ---- chart: price, volume, delta per candle, cumulative delta (one time scale, four panes) ----
const chartElement = $("#chart");
const chart = LC.createChart(chartElement, {
  autoSize: true,
  layout: {
    background: { type: "solid", color: "#161c24" },
    textColor: "#d5dbe3",
    attributionLogo: false,
    panes: { separatorColor: "#263040" },
  },
  grid: { vertLines: { color: "#1e2632" }, horzLines: { color: "#1e2632" } },
  timeScale: { timeVisible: true, secondsVisible: true, borderColor: "#263040" },
  rightPriceScale: { borderColor: "#263040" },
  crosshair: { mode: 0 },
});
const priceSeries = chart.addSeries(LC.CandlestickSeries, {
  upColor: "#26a69a",
  downColor: "#ef5350",
  borderVisible: false,
  wickUpColor: "#26a69a",
  wickDownColor: "#ef5350",
});
const volumeSeries = chart.addSeries(LC.HistogramSeries, { priceFormat: { type: "volume" } }, 1);
const deltaSeries = chart.addSeries(LC.HistogramSeries, { priceFormat: { type: "volume" } }, 2);
const cumDeltaSeries = chart.addSeries(
  LC.LineSeries,
  { color: "#4c8dff", lineWidth: 2, priceFormat: { type: "volume" } },
  3,
);
const tradeMarkers = LC.createSeriesMarkers(priceSeries, []);
// The price scale takes in the position's stop and take profit, so that both lines show.
let linePrices = [];
priceSeries.applyOptions({
  autoscaleInfoProvider: (original) => {
    const info = original();
    if (info === null || !linePrices.length) return info;
    return {
      ...info,
      priceRange: {
        minValue: Math.min(info.priceRange.minValue, ...linePrices),
        maxValue: Math.max(info.priceRange.maxValue, ...linePrices),
      },
    };
  },
});
for (const [index, height] of [[1, 70], [2, 70], [3, 80]]) {
  const pane = chart.panes()[index];
  if (pane) pane.setHeight(height);
}

const toTime = (candle) => Math.floor(candle.start_ns / 1e9);
const volumeBar = (c) => ({ time: toTime(c), value: flowUnit === "usd" ? c.turnover : c.volume, color: c.close >= c.open ? "#26a69a88" : "#ef535088" });
const candleDelta = (c) => (flowUnit === "usd" ? c.delta_quote : c.delta);
const deltaBar = (c) => ({ time: toTime(c), value: candleDelta(c), color: candleDelta(c) >= 0 ? "#26a69a" : "#ef5350" });
const priceBar = (c) => ({ time: toTime(c), open: c.open, high: c.high, low: c.low, close: c.close });

function drawCandles(list, full) {
  // list: oldest first, the forming candle last (if any). Merge by start time.
  const byTime = new Map(dash.candles.map((c) => [c.start_ns, c]));
  if (full) byTime.clear();
  for (const c of list) byTime.set(c.start_ns, c);
  const merged = [...byTime.values()].sort((a, b) => a.start_ns - b.start_ns).slice(-500);
  const previousLast = dash.candles.length ? dash.candles[dash.candles.length - 1].start_ns : null;
  const firstNew = Math.min(...list.map((c) => c.start_ns));
  dash.candles = merged;
  let running = 0;
  const cumulative = merged.map((c) => ({ time: toTime(c), value: (running += candleDelta(c)) }));
  if (full || previousLast === null || firstNew < previousLast) {
    priceSeries.setData(merged.map(priceBar));
    volumeSeries.setData(merged.map(volumeBar));
    deltaSeries.setData(merged.map(deltaBar));
  } else {
    // Only the newest candles changed: update in place (keeps the user's zoom and scroll).
    for (const c of merged.filter((c) => c.start_ns >= previousLast)) {
      priceSeries.update(priceBar(c));
      volumeSeries.update(volumeBar(c));
      deltaSeries.update(deltaBar(c));
    }
  }
  cumDeltaSeries.setData(cumulative);
  if (full) chart.timeScale().fitContent();
  const last = merged[merged.length - 1];
  chartElement.dataset.symbol = dash.symbol;
  chartElement.dataset.timeframe = dash.timeframe;
  chartElement.dataset.candles = String(merged.length);
  chartElement.dataset.lastTime = last ? String(toTime(last)) : "";
  chartElement.dataset.firstTime = merged.length ? String(toTime(merged[0])) : "";
  if (last) {
    priceSeries.applyOptions({
      priceFormat: { type: "price", precision: decimalsOf(last.close), minMove: 10 ** -decimalsOf(last.close) },
    });
  }
}

// ---- the trader's fills (markers) and the position's entry, stop and take profit (lines) ----
let markersKey = "";
let linesKey = "";
let priceLines = [];
// The start of the latest candle at or before `time` (markers sit on a bar of the series).
function barTime(time) {
  const candles = dash.candles;
  let low = 0;
  let high = candles.length - 1;
  let found = null;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const start = toTime(candles[middle]);
    if (start <= time) {
      found = start;
      low = middle + 1;
    } else high = middle - 1;
  }
  return found;
}
function drawTradeOverlays() {
  if (!trading.enabled || !dash.symbol) return;
  const symbol = dash.symbol;
  // One marker per bar, side and intent (a fill in several lots is one trade on the chart),
  // at the size-weighted price of its fills.
  const groups = new Map();
  for (const fill of trading.fills) {
    if (fill.symbol !== symbol) continue;
    const time = barTime(Math.floor(fill.ts_ns / 1e9));
    if (time === null) continue;
    const key = `${time}|${fill.side}|${fill.intent}`;
    const group = groups.get(key) ?? { time, side: fill.side, intent: fill.intent, qty: 0, value: 0, count: 0 };
    group.qty += fill.qty;
    group.value += fill.qty * fill.price;
    group.count += 1;
    groups.set(key, group);
  }
  const markers = [...groups.entries()].map(([key, g]) => ({
    time: g.time,
    position: "atPriceMiddle",
    price: g.value / g.qty,
    shape: g.side === "buy" ? "arrowUp" : "arrowDown",
    color: g.intent === "exit" ? "#f0b429" : g.side === "buy" ? "#26a69a" : "#ef5350",
    text: `${g.intent} ${g.side}${g.count > 1 ? ` ×${g.count}` : ""}`,
    id: key,
  }));
  markers.sort((a, b) => a.time - b.time);
  const key = `${symbol}|${dash.timeframe}|${markers.map((m) => `${m.id}:${m.text}:${m.price}`).join(",")}`;
  if (key !== markersKey) {
    markersKey = key;
    tradeMarkers.setMarkers(markers);
    chartElement.dataset.markers = String(markers.length);
  }
  const position = trading.positions.find((p) => p.symbol === symbol);
  const lines = position
    ? [
        ["entry", position.entry_price, "#7d8899", LC.LineStyle.Dotted],
        ["stop", position.stop_price, "#ef5350", LC.LineStyle.Dashed],
        ["take profit", position.take_profit, "#26a69a", LC.LineStyle.Dashed],
      ].filter(([, price]) => price !== null && price !== undefined)
    : [];
  const wanted = `${symbol}|${lines.map(([title, price]) => `${title}=${price}`).join(",")}`;
  if (wanted !== linesKey) {
    linesKey = wanted;
    linePrices = lines.map(([, price]) => price);
    for (const line of priceLines) priceSeries.removePriceLine(line);
    priceLines = lines.map(([title, price, color, lineStyle]) =>
      priceSeries.createPriceLine({ price, color, lineStyle, lineWidth: 1, axisLabelVisible: true, title }),
    );
    chartElement.dataset.priceLines = lines.map(([title]) => title).join(",");
  }
}

async function loadCandles(full) {
  const symbol = dash.symbol;
  const timeframe = dash.timeframe;
  const view = await getJSON(
    `/api/symbol/${encodeURIComponent(symbol)}/candles?tf=${timeframe}&limit=${full ? 300 : 2}`,
  );
  if (symbol !== dash.symbol || timeframe !== dash.timeframe) return; // switched meanwhile
  const list = [...view.candles];
  if (view.forming) list.push(view.forming);
  drawCandles(list, full);
  if (full) {
    markersKey = "";
    drawTradeOverlays();
  }
}

// ---- order-book ladder and imbalance gauges ----
function renderLadder(book) {
  const asks = book.asks.slice(0, LADDER_DEPTH);
  const bids = book.bids.slice(0, LADDER_DEPTH);
  const biggest = Math.max(1e-12, ...asks.map((l) => l[1]), ...bids.map((l) => l[1]));
  digitsBySymbol.set(dash.symbol, decimalsInLevels([...asks, ...bids]));
  const digits = decimalsOf(book.mid || (bids[0] ? bids[0][0] : 1));
  const bar = (size) => `<div class="bar" style="width:${((100 * size) / biggest).toFixed(1)}%"></div>`;
  const askRows = asks
    .slice()
    .reverse()
    .map(([price, size]) =>
      `<tr class="ask-row"><td></td><td class="num price">${fmt(price, digits)}</td>` +
      `<td class="num ask">${bar(size)}<span>${compact(size)}</span></td></tr>`)
    .join("");
  const bidRows = bids
    .map(([price, size]) =>
      `<tr class="bid-row"><td class="num bid">${bar(size)}<span>${compact(size)}</span></td>` +
      `<td class="num price">${fmt(price, digits)}</td><td></td></tr>`)
    .join("");
  const spread = `<tr class="spread"><td colspan="3">spread ${fmt(book.spread, digits)} · ${fmt(book.spread_bps, 2)} bps</td></tr>`;
  const ladder = $("#ladder");
  ladder.querySelector("tbody").innerHTML = askRows + spread + bidRows;
  dash.ladderUpdates += 1;
  dash.lastBook = { update_id: book.update_id, best_bid: book.best_bid, best_ask: book.best_ask };
  ladder.dataset.updates = String(dash.ladderUpdates);
  ladder.dataset.updateId = String(book.update_id);
  $("#book-state").textContent = book.state;
}

function renderGauges(imbalance) {
  if (!imbalance) return;
  const keys = ["top1", "top5", "top10", "top25", "bps10", "bps50", "book"];
  $("#gauges").innerHTML = keys
    .map((key) => {
      const value = imbalance.values[key];
      const pct = Math.max(0, Math.min(1, value ?? 0.5)) * 100;
      return (
        `<div class="gauge" data-key="${key}"><span>${key}</span>` +
        `<div class="track"><div class="fill" style="width:${pct.toFixed(1)}%"></div><div class="mid"></div></div>` +
        `<span class="num">${fmt(value, 2)}</span></div>`
      );
    })
    .join("");
  const label = $("#imb-label");
  label.textContent = imbalance.label.replace("_", " ");
  label.className = `label ${imbalance.label === "bid_pressure" ? "pos" : imbalance.label === "ask_pressure" ? "neg" : ""}`;
}

// ---- signals: score, regime badges and one meter per factor (its contribution) ----
const STATUS_TEXT = { warming_up: "warming", unavailable: "n/a" };
function renderSignals(view) {
  const score = view.score;
  const label = $("#signal-score");
  label.textContent =
    score.value === null
      ? "warming up"
      : `${fmt(score.value, 3)} ${score.direction} · confluence ${score.confluence}`;
  label.className = `label ${score.direction === "long" ? "pos" : score.direction === "short" ? "neg" : ""}`;
  $("#regimes").innerHTML = Object.entries(view.regimes)
    .map(([name, regime]) => {
      const inputs = Object.entries(regime.inputs)
        .map(([key, value]) => `${key} ${fmt(value, 3)}`)
        .join(", ");
      return `<span class="badge" data-regime="${name}" data-state="${regime.state}" title="${inputs}">${name}: ${regime.state.replace("_", " ")}</span>`;
    })
    .join("");
  $("#signal-meta").textContent =
    `as of ${new Date(view.as_of_ns / 1e6).toISOString().slice(11, 23)} · every ${view.cadence_ms} ms` +
    ` · gates ${score.gates.length ? score.gates.join(", ") : "none"} (x${fmt(score.multiplier, 2)})` +
    ` · ${score.version}${view.book_in_sync ? "" : " · book out of sync"}`;
  // Bars are contributions on one scale (the largest |contribution|, at least 0.1), so the
  // bars of the weighted factors add up to the score; unweighted factors show their value only.
  const factors = Object.entries(view.factors);
  const largest = Math.max(0.1, ...factors.map(([, f]) => Math.abs(f.contribution ?? 0)));
  $("#meters").innerHTML = factors
    .map(([name, f]) => {
      const part = f.contribution;
      const width = part === null ? 0 : (50 * Math.abs(part)) / largest;
      const value = f.value === null ? STATUS_TEXT[f.status] ?? f.status : fmt(f.value, 3);
      return (
        `<div class="meter" data-factor="${name}" data-status="${f.status}" data-weighted="${f.weight !== 0}"` +
        ` title="${f.kind}, weight ${f.weight}${f.z === null ? "" : `, z ${fmt(f.z, 2)}`}">` +
        `<span class="name">${name}</span>` +
        `<div class="track"><div class="bar ${part !== null && part < 0 ? "neg" : "pos"}" style="width:${width.toFixed(1)}%"></div></div>` +
        `<span class="num">${value}</span><span class="num">${part === null ? "" : fmt(part, 3)}</span></div>`
      );
    })
    .join("");
  dash.signalsUpdates += 1;
  dash.lastSignals = { symbol: view.symbol, as_of_ns: view.as_of_ns, score: score.value };
  $("#meters").dataset.updates = String(dash.signalsUpdates);
}

// ---- trades tape ----
function renderTape(view) {
  $("#tape tbody").innerHTML = view.trades
    .map((t) => {
      const time = new Date(t.ts_event_ns / 1e6).toISOString().slice(11, 23);
      return (
        `<tr class="${t.side}${t.large ? " large" : ""}"><td>${time}</td>` +
        `<td class="num">${fmt(t.price, decimalsOf(t.price))}</td>` +
        `<td class="num">${compact(t.size)}</td><td class="num">${compact(t.notional)}</td></tr>`
      );
    })
    .join("");
}

// ---- selected symbol detail: refreshed on WS state ticks, never in a tight loop ----
let detailInFlight = false;
let detailLast = 0;
let detailPending = false;
async function refreshDetail() {
  const now = performance.now();
  if (detailInFlight || now - detailLast < DETAIL_MIN_INTERVAL_MS) {
    detailPending = true;
    return;
  }
  detailInFlight = true;
  detailPending = false;
  detailLast = now;
  const symbol = dash.symbol;
  try {
    const path = `/api/symbol/${encodeURIComponent(symbol)}`;
    const [book, trades, , signals] = await Promise.all([
      getJSON(`${path}/book?depth=${LADDER_DEPTH}`).catch(() => null),
      getJSON(`${path}/trades?limit=40`),
      loadCandles(false),
      getJSON(`${path}/signals`).catch(() => null),
    ]);
    if (symbol === dash.symbol) {
      if (book && book.bids) renderLadder(book);
      renderTape(trades);
      if (signals && signals.score) renderSignals(signals);
    }
  } catch (error) {
    console.warn("refresh failed", error);
  } finally {
    detailInFlight = false;
    if (detailPending) setTimeout(refreshDetail, DETAIL_MIN_INTERVAL_MS);
  }
}

async function selectSymbol(symbol) {
  if (!symbol) return;
  dash.symbol = symbol;
  if (dash.heatmap && dash.heatmap.running) dash.heatmap.setSymbol(symbol);
  dash.candles = [];
  dash.ladderUpdates = 0;
  $("#symbol-title").textContent = symbol;
  const url = new URL(location.href);
  url.searchParams.set("symbol", symbol);
  url.searchParams.set("tf", dash.timeframe);
  history.replaceState(null, "", url);
  renderScanner();
  await loadCandles(true);
  detailLast = 0;
  await refreshDetail();
}

async function selectTimeframe(timeframe) {
  dash.timeframe = timeframe;
  for (const button of document.querySelectorAll("#timeframes button")) {
    button.classList.toggle("active", button.dataset.tf === timeframe);
  }
  if (dash.symbol) {
    const url = new URL(location.href);
    url.searchParams.set("tf", timeframe);
    history.replaceState(null, "", url);
    dash.candles = [];
    await loadCandles(true);
  }
}
$("#timeframes").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-tf]");
  if (button) selectTimeframe(button.dataset.tf);
});

// ---- WebSocket ----
let socket = null;
let retryMs = 500;
function setWsStatus(state) {
  dash.ws = state;
  const pill = $("#ws-status");
  pill.dataset.state = state;
  pill.textContent = `ws: ${state}`;
}
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.addEventListener("open", () => {
    retryMs = 500;
    setWsStatus("open");
    socket.send(JSON.stringify({ op: "subscribe", symbols: [...rows.keys()] }));
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "state") {
      dash.stateMessages += 1;
      rows.set(message.symbol, rowFromState(message.symbol, message.data));
      markScannerDirty();
      if (message.symbol === dash.symbol) {
        const d = message.data;
        const digits = decimalsOf(d.mid || 1);
        $("#quote").textContent =
          `bid ${d.best_bid ? fmt(d.best_bid[0], digits) : "—"}  ask ${d.best_ask ? fmt(d.best_ask[0], digits) : "—"}` +
          `  micro ${fmt(d.microprice, digits)}  cumΔ ${flowUnit === "usd" ? dollars(d.cumulative.delta_quote) : compact(d.cumulative.delta)}  ${d.sync_state}`;
        renderGauges(d.imbalance);
        refreshDetail();
      }
    } else if (message.type === "signals") {
      dash.signalMessages += 1;
      const row = rows.get(message.symbol);
      if (row) {
        rows.set(message.symbol, withSignals(row, message.data));
        markScannerDirty();
      }
    } else if (message.type === "regime") {
      dash.regimeMessages += 1;
      if (message.symbol === dash.symbol) refreshDetail();
    } else if (message.type === "candle") {
      dash.candleMessages += 1;
      if (message.symbol === dash.symbol && message.timeframe === dash.timeframe) {
        drawCandles([message.candle], false);
      }
    } else if (message.type === "error") {
      console.warn("stream error:", message.message);
    }
  });
  socket.addEventListener("close", () => {
    setWsStatus("closed");
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
  });
}

// ---- feed health ----
async function pollHealth() {
  try {
    const report = await getJSON("/api/monitor/health");
    const pill = $("#health");
    pill.dataset.status = report.status;
    pill.textContent =
      `feed: ${report.status} · ${report.books_in_sync}/${report.symbols} in sync · ` +
      `last frame ${fmt(report.last_frame_age_ms, 0)} ms`;
    pill.title = report.reason || "GET /api/monitor/health";
  } catch (error) {
    $("#health").dataset.status = "down";
    $("#health").textContent = "feed: unreachable";
  }
  setTimeout(pollHealth, HEALTH_EVERY_MS);
}

// ---- trading (hidden when the API has no trader) ----
const trading = createTrading({
  price: (symbol, value) => fmt(value, decimalsOf(value, symbol)),
  onMachines: (machines) => {
    for (const [symbol, machine] of Object.entries(machines)) {
      const row = rows.get(symbol);
      if (row && row.machine !== machine) {
        rows.set(symbol, { ...row, machine });
        markScannerDirty();
      }
    }
  },
  onChange: () => drawTradeOverlays(),
});
dash.trading = trading;
$("#trading-panel").addEventListener("click", (event) => {
  const tr = event.target.closest("tr[data-symbol]");
  if (tr && tr.dataset.symbol !== dash.symbol) selectSymbol(tr.dataset.symbol);
});

// ---- liquidity heatmap of the selected symbol (switched on by its button or ?heatmap=1) ----
const heatmap = createHeatmap(
  $("#heatmap"),
  (symbol) => tickSizes.get(symbol) ?? null,
  ({ low, high }) => {
    const digits = decimalsOf((low + high) / 2);
    $("#heatmap-axis").innerHTML =
      `<span>${fmt(high, digits)}</span><span>${fmt((low + high) / 2, digits)}</span><span>${fmt(low, digits)}</span>`;
  },
);
dash.heatmap = heatmap;
function showHeatmap(on) {
  $("#heatmap-wrap").hidden = !on;
  $("#symbol-panel").classList.toggle("with-heatmap", on);
  $("#btn-heatmap").classList.toggle("active", on);
  const url = new URL(location.href);
  if (on) url.searchParams.set("heatmap", "1");
  else url.searchParams.delete("heatmap");
  history.replaceState(null, "", url);
  if (on) {
    heatmap.setSymbol(dash.symbol);
    heatmap.start();
  } else heatmap.stop();
}
$("#btn-heatmap").addEventListener("click", () => showHeatmap(!heatmap.running));

// ---- start ----
async function start() {
  const params = new URLSearchParams(location.search);
  const timeframe = TIMEFRAMES.includes(params.get("tf")) ? params.get("tf") : "15s";
  const table = await getJSON("/api/symbols");
  for (const row of table.symbols) rows.set(row.symbol, rowFromTable(row));
  renderScanner();
  await selectTimeframe(timeframe);
  const wanted = (params.get("symbol") || "").toUpperCase();
  await selectSymbol(rows.has(wanted) ? wanted : table.symbols[0]?.symbol);
  connect();
  pollHealth();
  trading.start();
  if (params.get("heatmap") === "1") showHeatmap(true);
}
start();
