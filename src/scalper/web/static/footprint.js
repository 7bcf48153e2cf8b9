// Footprint chart of the selected symbol: per candle, the volume sold (left) and bought (right)
// by aggressors at each price level, from GET /api/symbol/{s}/footprint. The point of control
// is outlined, 3:1 diagonal imbalances are coloured (buying at a level against selling one level
// below, selling against buying one level above), the candle's delta is written under it.
// Levels are merged when too many to fit (a row is then several levels; prices at the right).
// Polled once a second while shown; drawn at most once per animation frame, only when the
// candles changed; the page keeps only the last response (CANDLES candles).
const POLL_MS = 1000;
const CANDLES = 12;
const MIN_COLUMN_PX = 70; // CSS pixels per candle at least: fewer candles when narrower
const MIN_ROW_PX = 13; // CSS pixels per row at least: neighbouring levels are merged to fit
const FOOTER_PX = 16;
const HEADER_PX = 14; // room for the note over the canvas
const AXIS_PX = 84; // room for the prices at the right
const IMBALANCE = 3;
const BACKGROUND = "#0b0f14";

async function get(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

const compact = (v) =>
  Math.abs(v) >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : Math.abs(v) >= 1e3 ? `${(v / 1e3).toFixed(1)}K` : v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toPrecision(2);

/** The footprint chart on `canvas`; `symbolOf()` gives the selected symbol. */
export function createFootprint(canvas, symbolOf) {
  const ctx = canvas.getContext("2d", { alpha: false });
  const chart = { running: false, symbol: null, view: null, draws: 0, polls: 0, skipped: 0, drawMs: 0 };
  let timer = null;
  let drawnKey = "";
  let frameRequested = false;

  // The canvas's size in device pixels, from a ResizeObserver: reading clientWidth in a draw
  // would force a layout of the page at every frame drawn.
  let cssWidth = canvas.clientWidth;
  let cssHeight = canvas.clientHeight;
  new ResizeObserver(([entry]) => {
    cssWidth = entry.contentRect.width;
    cssHeight = entry.contentRect.height;
    if (chart.view) requestDraw();
  }).observe(canvas);

  function resize() {
    const width = Math.max(1, Math.floor(cssWidth * devicePixelRatio));
    const height = Math.max(1, Math.floor(cssHeight * devicePixelRatio));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
  }

  function draw() {
    frameRequested = false;
    const view = chart.view;
    if (!view) return;
    const started = performance.now();
    resize();
    const dpr = devicePixelRatio;
    const W = canvas.width - AXIS_PX * dpr;
    const top = HEADER_PX * dpr;
    const H = canvas.height - (FOOTER_PX + HEADER_PX) * dpr;
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const fit = Math.max(1, Math.floor(W / (MIN_COLUMN_PX * dpr)));
    const candles = view.candles.slice(-fit);
    const prices = candles.flatMap((c) => c.levels.map((l) => l.price));
    if (!prices.length) return;
    let step = view.level_size;
    if (!step) {
      const sorted = [...new Set(prices)].sort((a, b) => a - b);
      step = sorted.slice(1).reduce((m, p, i) => Math.min(m, p - sorted[i]), Infinity);
      if (!Number.isFinite(step)) step = 1;
    }
    const low = Math.min(...prices);
    const levels = Math.round((Math.max(...prices) - low) / step) + 1;
    const merge = Math.max(1, Math.ceil((levels * MIN_ROW_PX * dpr) / H)); // levels per row
    const rows = Math.ceil(levels / merge);
    const rowH = H / rows;
    const rowOf = (price) => Math.floor(Math.round((price - low) / step) / merge);
    const colW = W / candles.length;
    const text = rowH >= 9 * dpr && colW >= 60 * dpr;
    ctx.font = `${Math.min(11 * dpr, rowH * 0.8)}px ui-monospace, monospace`;
    ctx.textBaseline = "middle";
    let levelsDrawn = 0;
    const grouped = candles.map((candle) => {
      const byRow = new Map();
      for (const l of candle.levels) {
        const row = rowOf(l.price);
        const cell = byRow.get(row) ?? { buy: 0, sell: 0 };
        cell.buy += l.buy;
        cell.sell += l.sell;
        byRow.set(row, cell);
        levelsDrawn += 1;
      }
      return byRow;
    });
    const most = Math.max(1e-12, ...grouped.flatMap((g) => [...g.values()].map((c) => Math.max(c.buy, c.sell))));
    candles.forEach((candle, i) => {
      const x = i * colW;
      const half = (colW - 4 * dpr) / 2;
      const byRow = grouped[i];
      const pocRow = candle.poc === null ? null : rowOf(candle.poc);
      for (const [row, level] of byRow) {
        const y = top + H - (row + 1) * rowH;
        const below = byRow.get(row - 1);
        const above = byRow.get(row + 1);
        const buyImb = level.buy > 0 && level.buy >= IMBALANCE * (below ? below.sell : 0) && below;
        const sellImb = level.sell > 0 && level.sell >= IMBALANCE * (above ? above.buy : 0) && above;
        ctx.fillStyle = `rgba(239,83,80,${0.12 + 0.8 * Math.sqrt(level.sell / most)})`;
        ctx.fillRect(x + 2 * dpr, y, half, Math.max(1, rowH - 1));
        ctx.fillStyle = `rgba(38,166,154,${0.12 + 0.8 * Math.sqrt(level.buy / most)})`;
        ctx.fillRect(x + 2 * dpr + half, y, half, Math.max(1, rowH - 1));
        if (row === pocRow) {
          ctx.strokeStyle = "#f0b429";
          ctx.lineWidth = Math.max(1, dpr);
          ctx.strokeRect(x + 2 * dpr, y, 2 * half, Math.max(1, rowH - 1));
        }
        if (text) {
          ctx.textAlign = "right";
          ctx.fillStyle = sellImb ? "#ff8a80" : "#d5dbe3";
          ctx.fillText(compact(level.sell), x + 2 * dpr + half - 3 * dpr, y + rowH / 2);
          ctx.textAlign = "left";
          ctx.fillStyle = buyImb ? "#69f0ae" : "#d5dbe3";
          ctx.fillText(compact(level.buy), x + 2 * dpr + half + 3 * dpr, y + rowH / 2);
        }
      }
      ctx.textAlign = "center";
      ctx.font = `${10 * dpr}px ui-monospace, monospace`;
      ctx.fillStyle = candle.delta >= 0 ? "#26a69a" : "#ef5350";
      ctx.fillText(`Δ ${candle.delta >= 0 ? "+" : "-"}${compact(Math.abs(candle.delta))}${candle.closed ? "" : " …"}`, x + colW / 2, top + H + (FOOTER_PX * dpr) / 2);
      ctx.font = `${Math.min(11 * dpr, rowH * 0.8)}px ui-monospace, monospace`;
    });
    chart.draws += 1;
    chart.drawMs += performance.now() - started;
    canvas.dataset.candles = String(candles.length);
    canvas.dataset.levels = String(levelsDrawn);
    canvas.dataset.rows = String(rows);
    if (rowH >= 9 * dpr) {
      ctx.textAlign = "left";
      ctx.fillStyle = "#7d8899";
      const digits = Math.max(0, -Math.floor(Math.log10(step * merge) + 1e-9));
      for (let row = 0; row < rows; row += Math.max(1, Math.ceil(rows / 12))) {
        ctx.fillText((low + row * merge * step).toFixed(digits), W + 4 * dpr, top + H - (row + 0.5) * rowH);
      }
    }
    canvas.dataset.draws = String(chart.draws);
  }

  function requestDraw() {
    if (!frameRequested) {
      frameRequested = true;
      requestAnimationFrame(draw);
    }
  }

  async function poll() {
    const symbol = symbolOf();
    if (!symbol) return;
    if (symbol !== chart.symbol) {
      chart.symbol = symbol;
      chart.view = null;
      drawnKey = "";
    }
    try {
      const view = await get(`/api/symbol/${encodeURIComponent(symbol)}/footprint?limit=${CANDLES}`);
      if (symbol !== chart.symbol || !chart.running) return;
      chart.polls += 1;
      // Drawn only when the candles changed (a quiet symbol's poll repeats the last view).
      const last = view.candles[view.candles.length - 1];
      const key = `${view.candles.length}|${view.candles[0]?.start_ns}|${last?.start_ns}|${last?.trades}|${last?.closed}`;
      chart.view = view;
      if (key !== drawnKey || Math.floor(cssWidth * devicePixelRatio) !== canvas.width) {
        drawnKey = key;
        requestDraw();
      } else chart.skipped += 1;
    } catch (error) {
      canvas.dataset.error = String(error.message || error); // 404 until the first trade
    }
  }

  chart.start = () => {
    if (chart.running) return;
    chart.running = true;
    poll();
    timer = setInterval(poll, POLL_MS);
  };
  chart.stop = () => {
    chart.running = false;
    clearInterval(timer);
    timer = null;
  };
  return chart;
}
