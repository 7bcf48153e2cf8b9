// scalper order-flow dashboard: REST for the initial state, the /ws stream for live updates.
// Plain ES module, no build step; the charting library is the vendored standalone build.
import { createHeatmap } from "./heatmap.js";
import { createScanner, imbalanceClass } from "./scanner.js";
import { createLadder, HALF_ROWS } from "./ladder.js";
import { createReadout, sessionSeries } from "./session.js";
import { createTape } from "./tape.js";
import { createTrading } from "./trading.js";
import { createAlerts } from "./alerts.js";
import { createFootprint } from "./footprint.js";
import { clockText, onTimeZone, setTimeZone, timeZone, zoneLabel } from "./timefmt.js";

const LC = window.LightweightCharts;
const TIMEFRAMES = ["15s", "1m", "5m"];
const LADDER_DEPTH = 50; // levels a side followed (cumulative depth counts them all)
const HEALTH_EVERY_MS = 3000;
const DETAIL_MIN_INTERVAL_MS = 500; // book/tape/candle refresh: on WS ticks, at most this often

const $ = (selector) => document.querySelector(selector);
// Fixed decimals; a value that rounds to zero shows no sign ("-0.00" never appears).
const fmt = (value, digits = 2) => {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const text = Number(value).toFixed(digits);
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
};
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
  // The scanner's header cells, once the scanner has drawn them.
  const deltaHead = $("#scanner .th[data-sort='delta_1m']");
  const volumeHead = $("#scanner .th[data-sort='volume_5m']");
  if (deltaHead) deltaHead.textContent = usd ? "Δ 1m $" : "Δ 1m";
  if (volumeHead) volumeHead.textContent = usd ? "Vol 5m $" : "Vol 5m";
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
    ...tickerColumns(data.ticker),
  });
}

// The scanner's ticker columns (funding, open interest, 24 h change), when the ticker has them.
function tickerColumns(ticker) {
  if (!ticker) return {};
  const columns = {};
  if (ticker.price_24h_pcnt != null) columns.change_24h = ticker.price_24h_pcnt;
  if (ticker.funding_rate != null) columns.funding_rate = ticker.funding_rate;
  if (ticker.open_interest_value != null) columns.open_interest_value = ticker.open_interest_value;
  return columns;
}

const scanner = createScanner({
  rows,
  selected: () => dash.symbol,
  onSelect: (symbol) => selectSymbol(symbol),
  fmt,
  compact,
  price: (symbol, value) => fmt(value, decimalsOf(value, symbol)),
});
dash.scanner = scanner.state;
const renderScanner = scanner.render;
showFlowUnit();
const markScannerDirty = scanner.markDirty;

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
  timeScale: { timeVisible: true, secondsVisible: true, borderColor: "#263040", tickMarkFormatter: (time) => clockText(time * 1000) },
  localization: { timeFormatter: (time) => clockText(time * 1000) },
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
const vwapSeries = chart.addSeries(LC.LineSeries, {
  color: "#f0b429",
  lineWidth: 1,
  lineStyle: LC.LineStyle.Dashed,
  priceLineVisible: false,
  crosshairMarkerVisible: false,
  title: "VWAP",
});
const readout = createReadout($("#chart-readout"), {
  price: (value) => fmt(value, decimalsOf(value)),
  compact: (value) => compact(value),
});
chart.subscribeCrosshairMove((param) => readout.onCrosshair(param));
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
// The lower panes (volume, delta per candle, cumulative delta) get fixed heights and the price
// pane the rest, as stretch factors (setHeight on one pane resizes its neighbours).
const PANE_HEIGHTS = [70, 70, 80];
function sizePanes() {
  const panes = chart.panes();
  if (panes.length !== PANE_HEIGHTS.length + 1) return;
  const total = panes.reduce((sum, pane) => sum + pane.getHeight(), 0);
  // A short chart (the heatmap and footprint shown below it) keeps 45 % of its height for prices.
  const fixed = PANE_HEIGHTS.reduce((sum, height) => sum + height, 0);
  const shrink = Math.min(1, (0.55 * total) / fixed);
  const lower = PANE_HEIGHTS.map((height) => Math.max(24, Math.round(height * shrink)));
  const heights = [Math.max(60, total - lower.reduce((sum, height) => sum + height, 0)), ...lower];
  panes.forEach((pane, index) => pane.setStretchFactor(heights[index]));
}
sizePanes();
dash.paneHeights = () => chart.panes().map((pane) => pane.getHeight());
new ResizeObserver(() => requestAnimationFrame(sizePanes)).observe(chartElement);

const toTime = (candle) => Math.floor(candle.start_ns / 1e9);
const volumeBar = (c) => ({ time: toTime(c), value: flowUnit === "usd" ? c.turnover : c.volume, color: c.close >= c.open ? "#26a69a88" : "#ef535088" });
const candleDelta = (c) => (flowUnit === "usd" ? c.delta_quote : c.delta);
const deltaBar = (c) => ({ time: toTime(c), value: candleDelta(c), color: candleDelta(c) >= 0 ? "#26a69a" : "#ef5350" });
const priceBar = (c) => ({ time: toTime(c), open: c.open, high: c.high, low: c.low, close: c.close });

let drawnOrigin = null; // the session origin of the CVD and VWAP drawn
let drawnDigits = null; // the price scale's precision
function drawCandles(list, full) {
  // list: oldest first, the forming candle last (if any). Merge by start time.
  const byTime = new Map(dash.candles.map((c) => [c.start_ns, c]));
  if (full) byTime.clear();
  for (const c of list) byTime.set(c.start_ns, c);
  const merged = [...byTime.values()].sort((a, b) => a.start_ns - b.start_ns).slice(-500);
  const previousLast = dash.candles.length ? dash.candles[dash.candles.length - 1].start_ns : null;
  const firstNew = Math.min(...list.map((c) => c.start_ns));
  dash.candles = merged;
  const session = sessionSeries(merged, candleDelta); // CVD in the flow unit shown
  const cumulative = session.cvd.map((point) => ({ time: toTime(point), value: point.value }));
  const vwapPoints = session.vwap.map((point) => ({ time: toTime(point), value: point.value }));
  const redraw = full || previousLast === null || firstNew < previousLast;
  if (redraw || session.originNs !== drawnOrigin) {
    cumDeltaSeries.setData(cumulative);
    vwapSeries.setData(vwapPoints);
    drawnOrigin = session.originNs;
  } else {
    // The session's points from the last drawn candle on (a full setData redraws the chart).
    const since = toTime({ start_ns: previousLast });
    for (const point of cumulative) if (point.time >= since) cumDeltaSeries.update(point);
    for (const point of vwapPoints) if (point.time >= since) vwapSeries.update(point);
  }
  if (redraw) {
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
  if (session.label !== dash.cvdLabel) {
    dash.cvdLabel = session.label;
    cumDeltaSeries.applyOptions({ title: session.label });
    $("#chart-legend").textContent =
      `panes: price and session VWAP (dashed) · volume · delta per candle · ${session.label}`;
  }
  dash.cvd = cumulative.length ? cumulative[cumulative.length - 1].value : null;
  readout.setCandles(merged, toTime);
  chartElement.dataset.cvdOrigin = session.originNs === null ? "" : String(session.originNs);
  chartElement.dataset.vwap = session.vwap.length ? String(session.vwap[session.vwap.length - 1].value) : "";
  if (full) chart.timeScale().fitContent();
  const last = merged[merged.length - 1];
  chartElement.dataset.symbol = dash.symbol;
  chartElement.dataset.timeframe = dash.timeframe;
  chartElement.dataset.candles = String(merged.length);
  chartElement.dataset.lastTime = last ? String(toTime(last)) : "";
  chartElement.dataset.firstTime = merged.length ? String(toTime(merged[0])) : "";
  // Options only when the precision changes: applyOptions redraws the whole chart.
  if (last && (full || decimalsOf(last.close) !== drawnDigits)) {
    drawnDigits = decimalsOf(last.close);
    priceSeries.applyOptions({
      priceFormat: { type: "price", precision: drawnDigits, minMove: 10 ** -drawnDigits },
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
  // Buys below the bar, sells above it: the library stacks the markers of one bar on each side
  // (at the fill price they overlapped); short labels, the side shown by the arrow and colour.
  const markers = [...groups.entries()].map(([key, g]) => ({
    time: g.time,
    position: g.side === "buy" ? "belowBar" : "aboveBar",
    shape: g.side === "buy" ? "arrowUp" : "arrowDown",
    color: g.intent === "exit" ? "#f0b429" : g.side === "buy" ? "#26a69a" : "#ef5350",
    text: `${g.intent === "exit" ? "exit" : "entry"}${g.count > 1 ? ` ×${g.count}` : ""}`,
    id: key,
    price: g.value / g.qty, // kept for the key; the markers sit above or below the bar
  }));
  markers.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : 1));
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
const ladder = createLadder({
  table: $("#ladder"),
  fmt,
  tickOf: (symbol) => tickSizes.get(symbol) ?? null,
  decimals: (tick) => tickDigits.get(dash.symbol) ?? decimalsOfTick(Number(tick).toFixed(12)),
});
dash.ladder = ladder.state;
function renderLadder(book, walls) {
  ladder.setBook(dash.symbol, book, walls);
  dash.ladderUpdates += 1;
  dash.lastBook = { update_id: book.update_id, best_bid: book.best_bid, best_ask: book.best_ask };
  const element = $("#ladder");
  element.dataset.updates = String(dash.ladderUpdates);
  element.dataset.updateId = String(book.update_id);
  $("#book-state").textContent = book.state;
}
// Follow the selected symbol's book and trades over /ws (the book is polled without it).
function followBook() {
  if (socket && socket.readyState === WebSocket.OPEN && dash.symbol) {
    socket.send(JSON.stringify({ op: "book", symbols: [dash.symbol], depth: LADDER_DEPTH }));
  }
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
        `<span class="num ${imbalanceClass(value)}" data-value="${value ?? ""}">${fmt(value, 2)}</span></div>`
      );
    })
    .join("");
  const label = $("#imb-label");
  label.textContent = imbalance.label.replace("_", " ");
  label.className = `label ${imbalance.label === "bid_pressure" ? "pos" : imbalance.label === "ask_pressure" ? "neg" : ""}`;
}

// The quote line and the gauges, from a /basic view or a /ws state message (the same shape).
function renderQuote(d) {
  const digits = decimalsOf(d.mid || 1);
  const quote = $("#quote");
  quote.textContent =
    `bid ${d.best_bid ? fmt(d.best_bid[0], digits) : "—"}  ask ${d.best_ask ? fmt(d.best_ask[0], digits) : "—"}` +
    `  micro ${fmt(d.microprice, digits)}  ${dash.cvdLabel ?? "CVD"} ${flowUnit === "usd" ? dollars(dash.cvd) : compact(dash.cvd)}  ${d.sync_state}`;
  quote.title = quote.textContent;
  renderGauges(d.imbalance);
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
    `as of ${clockText(view.as_of_ns / 1e6, true)} · every ${view.cadence_ms} ms` +
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

// ---- trades tape (grouped prints, large relative to the symbol's own trades) ----
const tape = createTape({ fmt, compact, price: (symbol, value) => fmt(value, decimalsOf(value, symbol)) });
dash.tape = tape.state;
const renderTape = (view) => tape.render(dash.symbol, view.trades);

// ---- selected symbol detail: refreshed on WS state ticks, never in a tight loop ----
// The ladder's session volume comes from the engine when the API serves it (footprints on).
let profileServed = false;
getJSON("/openapi.json")
  .then((schema) => (profileServed = "/api/symbol/{symbol}/volume-profile" in (schema.paths ?? {})))
  .catch(() => null);
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
    const polled = dash.ws !== "open"; // the book comes over /ws while it is open
    const [book, trades, , signals, profile] = await Promise.all([
      polled ? getJSON(`${path}/book?depth=${LADDER_DEPTH}`).catch(() => null) : null,
      getJSON(`${path}/trades?limit=40`),
      loadCandles(false),
      getJSON(`${path}/signals`).catch(() => null),
      profileServed ? getJSON(`${path}/volume-profile?levels=${2 * HALF_ROWS}`).catch(() => null) : null,
    ]);
    if (symbol === dash.symbol) {
      if (book && book.bids) renderLadder(book, null);
      if (profile && profile.levels) ladder.setProfile(symbol, profile);
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
  ladder.reset(symbol);
  followBook();
  $("#symbol-title").textContent = symbol;
  const url = new URL(location.href);
  url.searchParams.set("symbol", symbol);
  url.searchParams.set("tf", dash.timeframe);
  history.replaceState(null, "", url);
  markScannerDirty();
  getJSON(`/api/symbol/${encodeURIComponent(symbol)}/trades?limit=1000`)
    .then((view) => {
      tape.seed(symbol, view.trades);
      ladder.addTrades(symbol, view.trades);
    })
    .catch(() => null);
  // The gauges and quote at once from REST, not at the first /ws message.
  getJSON(`/api/symbol/${encodeURIComponent(symbol)}/basic`)
    .then((view) => symbol === dash.symbol && view.symbol && renderQuote(view))
    .catch(() => null);
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
    followBook();
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "state") {
      dash.stateMessages += 1;
      rows.set(message.symbol, rowFromState(message.symbol, message.data));
      markScannerDirty();
      if (message.symbol === dash.symbol) {
        renderQuote(message.data);
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
    } else if (message.type === "alert") {
      alerts.show(message.data);
    } else if (message.type === "book") {
      if (message.symbol === dash.symbol) renderLadder(message.data, message.walls);
      heatmap.offerBook(message.symbol, message.data);
    } else if (message.type === "trades") {
      ladder.addTrades(message.symbol, message.trades);
      heatmap.offerTrades(message.symbol, message.trades);
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
  () => dash.ws === "open", // the ladder's /ws book and trades feed the heatmap too
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

// ---- alert toasts (/ws `alert` messages) and the footprint chart (button or ?footprint=1) ----
const alerts = createAlerts($("#toasts"), (symbol) => rows.has(symbol) && selectSymbol(symbol));
dash.alerts = alerts;
const footprint = createFootprint($("#footprint"), () => dash.symbol);
dash.footprint = footprint;
function showFootprint(on) {
  $("#footprint-wrap").hidden = !on;
  $("#symbol-panel").classList.toggle("with-footprint", on);
  $("#btn-footprint").classList.toggle("active", on);
  if (on) footprint.start();
  else footprint.stop();
}
$("#btn-footprint").addEventListener("click", () => showFootprint(!footprint.running));

// ---- times in UTC or local (the header's button) ----
function showTimeZone() {
  const button = $("#time-zone");
  const utc = timeZone() === "utc";
  button.textContent = zoneLabel();
  button.dataset.zone = timeZone();
  button.title = `times in ${utc ? "UTC" : "local time"}: click for ${utc ? "local time" : "UTC"}`;
  dash.timeZone = timeZone();
}
$("#time-zone").addEventListener("click", () => setTimeZone(timeZone() === "utc" ? "local" : "utc"));
onTimeZone(() => {
  showTimeZone();
  chart.applyOptions({}); // the axis labels again, with the zone's formatter
  if (dash.candles.length) drawCandles(dash.candles, true);
  detailLast = 0;
  refreshDetail();
});
showTimeZone();

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
  if (params.get("footprint") === "1") showFootprint(true);
}
start();
