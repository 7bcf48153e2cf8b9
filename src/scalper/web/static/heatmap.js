// Liquidity heatmap of the selected symbol: resting size by price level over time, with the
// trades as bubbles (area by size, colour by aggressor side). The book is sampled every 250 ms
// into a bounded ring; the canvas is drawn at most once per animation frame, and only the new
// columns are drawn (the image scrolls left) unless the price range or the size scale moved.
// While the page's /ws stream follows the symbol's book and trades (the ladder's), they are taken
// from it (offerBook, offerTrades) and nothing is fetched; otherwise they are polled.
const SAMPLE_MS = 250;
const TRADES_MS = 500;
const COLUMNS = 240; // a minute at 250 ms: the ring's bound, across the canvas
const DEPTH = 50;
const TRADE_IDS = 2000; // trade ids remembered to skip those already drawn
const BACKGROUND = "#0b0f14";

const $ = (selector) => document.querySelector(selector);

// Size intensity in [0, 1] -> a dark-blue, cyan, yellow, white ramp (Bookmap-like).
const RAMP = [
  [0.0, [11, 15, 20]],
  [0.15, [20, 40, 110]],
  [0.4, [20, 150, 190]],
  [0.7, [240, 200, 40]],
  [1.0, [255, 255, 255]],
];
const PALETTE = Array.from({ length: 64 }, (_, i) => {
  const t = i / 63;
  let k = 1;
  while (RAMP[k][0] < t) k += 1;
  const [t0, c0] = RAMP[k - 1];
  const [t1, c1] = RAMP[k];
  const f = (t - t0) / (t1 - t0);
  const c = c0.map((v, j) => Math.round(v + f * (c1[j] - v)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
});

async function get(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

/** The heatmap on `canvas`; `tickOf(symbol)` gives the price step (or null); `onRange(range)`
 * is told the prices at the canvas's top and bottom when they change; `streaming()` says whether
 * the /ws stream delivers the selected symbol's book and trades. */
export function createHeatmap(canvas, tickOf, onRange, streaming = () => false) {
  const ctx = canvas.getContext("2d", { alpha: false });
  const map = {
    symbol: null,
    samples: [], // ring: { ts, bid, ask, prices: Float64Array, sizes: Float64Array }
    trades: [], // ring: { ts, price, size, side }
    tradeIds: new Set(),
    running: false,
    frames: 0,
    columnsDrawn: 0,
    bubbles: 0,
    drawMs: 0,
    maxDrawMs: 0,
    fetched: 0, // book samples fetched over HTTP (none while the stream delivers them)
  };
  let range = null; // { low, high } prices on the canvas
  let scale = 0; // size shown at full intensity
  let pending = 0; // sampled columns not drawn yet
  let full = true;
  let newTrades = [];
  let frameRequested = false;
  let timers = [];
  let latest = null; // { symbol, book } the stream's latest book of the symbol

  let clockOffsetMs = 0; // page time (performance.now) minus event time, from the latest book
  // Whole device pixels per column, so that scrolling moves the image by whole pixels.
  const columnWidth = () => Math.max(2, Math.round(canvas.width / COLUMNS));
  const yOf = (price) => canvas.height * (1 - (price - range.low) / (range.high - range.low));
  const tick = (sample) => {
    const known = tickOf(map.symbol);
    if (known) return known;
    let step = Infinity;
    for (let i = 1; i < sample.prices.length; i += 1) {
      const gap = Math.abs(sample.prices[i] - sample.prices[i - 1]);
      if (gap > 0 && gap < step) step = gap;
    }
    return Number.isFinite(step) ? step : (range.high - range.low) / 200;
  };

  // The canvas's size in device pixels, from a ResizeObserver: reading clientWidth in a draw
  // would force a layout of the page at every frame drawn.
  let cssWidth = canvas.clientWidth;
  let cssHeight = canvas.clientHeight;
  new ResizeObserver(([entry]) => {
    cssWidth = entry.contentRect.width;
    cssHeight = entry.contentRect.height;
    if (map.samples.length) requestDraw();
  }).observe(canvas);

  function resize() {
    const width = Math.max(1, Math.floor(cssWidth * devicePixelRatio));
    const height = Math.max(1, Math.floor(cssHeight * devicePixelRatio));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
      full = true;
    }
  }

  // The price range: the latest book's extent; kept while the mid stays in its middle 60 %.
  function fitRange(sample) {
    const mid = (sample.bid + sample.ask) / 2;
    if (range) {
      const span = range.high - range.low;
      if (mid > range.low + 0.2 * span && mid < range.high - 0.2 * span) return;
    }
    let low = Infinity;
    let high = -Infinity;
    for (const price of sample.prices) {
      if (price < low) low = price;
      if (price > high) high = price;
    }
    const half = Math.max(high - mid, mid - low, mid * 1e-4);
    range = { low: mid - half, high: mid + half };
    full = true;
    onRange(range);
  }

  // The size at full intensity: the 95th percentile of the latest book's sizes, followed
  // slowly, and the whole image redrawn when it moved by more than half.
  function fitScale(sample) {
    const sizes = Array.from(sample.sizes).sort((a, b) => a - b);
    const p95 = sizes[Math.floor(0.95 * (sizes.length - 1))] || 1;
    if (!scale || p95 > scale * 1.5 || p95 < scale / 1.5) {
      scale = p95;
      full = true;
    } else scale += 0.05 * (p95 - scale);
  }

  function drawColumn(sample, x, width) {
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(x, 0, width, canvas.height);
    const step = tick(sample);
    const rowHeight = Math.max(1, Math.abs(yOf(0) - yOf(step)));
    for (let i = 0; i < sample.prices.length; i += 1) {
      const level = Math.min(1, Math.sqrt(sample.sizes[i] / scale) * 0.8);
      ctx.fillStyle = PALETTE[Math.round(level * 63)];
      ctx.fillRect(x, yOf(sample.prices[i]) - rowHeight / 2, width, rowHeight);
    }
    ctx.fillStyle = "#26a69a";
    ctx.fillRect(x, yOf(sample.bid) - 1, width, 2);
    ctx.fillStyle = "#ef5350";
    ctx.fillRect(x, yOf(sample.ask) - 1, width, 2);
    map.columnsDrawn += 1;
  }

  function xOfTime(ts) {
    const newest = map.samples[map.samples.length - 1];
    return canvas.width - ((newest.ts - ts) / SAMPLE_MS + 0.5) * columnWidth();
  }

  function drawTrades(trades) {
    const biggest = Math.max(1e-12, ...map.trades.map((t) => t.size));
    const most = Math.min(canvas.height / 10, 12 * devicePixelRatio);
    for (const trade of trades) {
      const x = xOfTime(trade.ts);
      if (x < 0) continue;
      const radius = Math.max(1.5 * devicePixelRatio, most * Math.sqrt(trade.size / biggest));
      ctx.beginPath();
      ctx.arc(x, yOf(trade.price), radius, 0, 2 * Math.PI);
      ctx.fillStyle = trade.side === "buy" ? "rgba(38,166,154,0.55)" : trade.side === "sell" ? "rgba(239,83,80,0.55)" : "rgba(200,200,200,0.5)";
      ctx.fill();
      ctx.strokeStyle = "rgba(255,255,255,0.6)";
      ctx.lineWidth = 1;
      ctx.stroke();
      map.bubbles += 1;
    }
  }

  function draw() {
    frameRequested = false;
    if (!map.samples.length) return;
    const started = performance.now();
    resize();
    const width = columnWidth();
    const count = map.samples.length;
    if (full || pending >= COLUMNS) {
      ctx.fillStyle = BACKGROUND;
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      map.samples.forEach((sample, i) => drawColumn(sample, canvas.width - (count - i) * width, width));
      drawTrades(map.trades);
    } else if (pending > 0) {
      const shift = pending * width;
      ctx.drawImage(canvas, -shift, 0); // scroll: the old columns move left
      for (let k = pending; k >= 1; k -= 1) drawColumn(map.samples[count - k], canvas.width - k * width, width);
      const since = map.samples[count - pending].ts - SAMPLE_MS;
      drawTrades(map.trades.filter((t) => t.ts >= since).concat(newTrades.filter((t) => t.ts < since)));
    } else drawTrades(newTrades);
    full = false;
    pending = 0;
    newTrades = [];
    map.frames += 1;
    const spent = performance.now() - started;
    map.drawMs += spent;
    map.maxDrawMs = Math.max(map.maxDrawMs, spent);
    canvas.dataset.samples = String(map.samples.length);
    canvas.dataset.bubbles = String(map.bubbles);
  }

  function requestDraw() {
    if (!frameRequested) {
      frameRequested = true;
      requestAnimationFrame(draw);
    }
  }

  async function sampleBook() {
    const symbol = map.symbol;
    try {
      const streamed = streaming() && latest && latest.symbol === symbol;
      const book = streamed
        ? latest.book
        : await get(`/api/symbol/${encodeURIComponent(symbol)}/book?depth=${DEPTH}`);
      if (symbol !== map.symbol || !map.running || !book.best_bid || !book.best_ask) return;
      const levels = [...book.bids, ...book.asks];
      const now = performance.now();
      if (!streamed) clockOffsetMs = now - book.ts_event_ns / 1e6;
      map.fetched += streamed ? 0 : 1;
      const sample = {
        ts: now,
        bid: book.best_bid[0],
        ask: book.best_ask[0],
        prices: Float64Array.from(levels, (l) => l[0]),
        sizes: Float64Array.from(levels, (l) => l[1]),
      };
      map.samples.push(sample);
      if (map.samples.length > COLUMNS) map.samples.shift();
      fitRange(sample);
      fitScale(sample);
      pending += 1;
      requestDraw();
    } catch (error) {
      console.warn("heatmap book sample failed", error);
    }
  }

  // Trades since the last poll, placed on the page's clock through the latest book sample's
  // event time (the columns are on the page's clock).
  async function sampleTrades() {
    if (streaming()) return; // the stream's trades come through offerTrades
    const symbol = map.symbol;
    try {
      const view = await get(`/api/symbol/${encodeURIComponent(symbol)}/trades?limit=200`);
      if (symbol !== map.symbol) return;
      addTrades(view.trades);
    } catch (error) {
      console.warn("heatmap trades failed", error);
    }
  }

  function addTrades(trades) {
    if (!map.running || !trades.length || !map.samples.length) return;
    // One bubble per sampling interval and aggressor side: its size, at its mean price.
    const slices = new Map();
    for (const t of trades) {
      if (map.tradeIds.has(t.trade_id)) continue;
      map.tradeIds.add(t.trade_id);
      const ts = t.ts_event_ns / 1e6 + clockOffsetMs;
      const key = `${Math.floor(ts / SAMPLE_MS)}|${t.side}`;
      const slice = slices.get(key) ?? { ts, value: 0, size: 0, side: t.side };
      slice.value += t.price * t.size;
      slice.size += t.size;
      slices.set(key, slice);
    }
    const fresh = [...slices.values()].map((g) => ({ ts: g.ts, price: g.value / g.size, size: g.size, side: g.side }));
    fresh.sort((a, b) => a.ts - b.ts);
    if (map.tradeIds.size > TRADE_IDS) map.tradeIds = new Set([...map.tradeIds].slice(-TRADE_IDS / 2));
    map.trades.push(...fresh);
    const oldest = map.samples[0].ts;
    while (map.trades.length && (map.trades[0].ts < oldest || map.trades.length > TRADE_IDS)) map.trades.shift();
    if (fresh.length) {
      newTrades.push(...fresh);
      requestDraw();
    }
  }

  /** A /ws `book` message's book of `symbol` (used while streaming() holds). */
  map.offerBook = (symbol, book) => {
    if (!map.running || symbol !== map.symbol) return;
    latest = { symbol, book };
    clockOffsetMs = performance.now() - book.ts_event_ns / 1e6;
  };
  /** A /ws `trades` message's trades of `symbol`. */
  map.offerTrades = (symbol, trades) => {
    if (symbol === map.symbol && streaming()) addTrades(trades);
  };

  map.setSymbol = (symbol) => {
    if (symbol === map.symbol) return;
    map.symbol = symbol;
    map.samples = [];
    map.trades = [];
    map.tradeIds = new Set();
    latest = null;
    range = null;
    scale = 0;
    full = true;
  };
  map.start = () => {
    if (map.running) return;
    map.running = true;
    timers = [setInterval(sampleBook, SAMPLE_MS), setInterval(sampleTrades, TRADES_MS)];
  };
  map.stop = () => {
    map.running = false;
    for (const timer of timers) clearInterval(timer);
    timers = [];
  };
  return map;
}
