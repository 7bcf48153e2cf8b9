// The DOM ladder: a fixed row per tick around the mid (empty levels too), recentred only when
// the price leaves the middle half, with each side's size and cumulative depth from the best
// price, the session's volume traded at each price (the engine's, from
// /api/symbol/{s}/volume-profile: since 00:00 UTC or its start; the trades the page has seen
// while the engine serves none), and the API's walls marked. Rows are a fixed pool updated in place, once per animation frame at most.

import { clockText, zoneLabel } from "./timefmt.js";

export const HALF_ROWS = 20; // ticks above and below the centre: 2 * HALF_ROWS + 1 rows
const MAX_PRICES = 20_000; // volume-at-price entries kept, at most

// Sizes in at most five characters: 3 significant digits and a K/M/B suffix.
export function short(value) {
  const size = Math.abs(value);
  for (const [scale, suffix] of [[1e9, "B"], [1e6, "M"], [1e3, "K"]]) {
    if (size >= scale) return `${Number((value / scale).toPrecision(3))}${suffix}`;
  }
  return String(Number(value.toPrecision(3)));
}

function inferTick(levels) {
  let tick = Infinity;
  const prices = levels.map(([price]) => price).sort((a, b) => a - b);
  for (let i = 1; i < prices.length; i += 1) {
    const step = prices[i] - prices[i - 1];
    if (step > 1e-12) tick = Math.min(tick, step);
  }
  return Number.isFinite(tick) ? tick : null;
}

export function createLadder({ table, fmt, tickOf, decimals }) {
  const compact = short;
  const body = table.querySelector("tbody");
  const state = { symbol: null, center: null, tick: null, rows: 0, walls: 0, volumePrices: 0, since: null, source: "page" };
  let book = null;
  let walls = { bids: [], asks: [] };
  let volume = new Map(); // tick index -> [buy, sell]
  let fromEngine = false; // volume is the engine's session profile (trades seen are not added)
  let dirty = false;
  const pool = [];

  function reset(symbol) {
    state.symbol = symbol;
    state.center = null;
    state.tick = null;
    state.since = null;
    book = null;
    walls = { bids: [], asks: [] };
    volume = new Map();
    fromEngine = false;
    state.source = "page";
  }

  const tickSize = () => state.tick ?? tickOf(state.symbol) ?? (book ? inferTick([...book.bids, ...book.asks]) : null);
  const indexOf = (price, tick) => Math.round(price / tick);

  // The engine's session volume profile (a /volume-profile view) around the ladder's prices.
  function setProfile(symbol, view) {
    if (symbol !== state.symbol || !view || !view.levels) return;
    const tick = tickSize();
    if (!tick) return;
    const next = new Map();
    for (const level of view.levels) {
      const key = indexOf(level.price, tick);
      const entry = next.get(key) ?? [0, 0];
      entry[0] += level.buy;
      entry[1] += level.sell;
      next.set(key, entry);
    }
    volume = next;
    fromEngine = true;
    state.since = view.since_ns;
    state.source = "engine";
    markDirty();
  }

  function addTrades(symbol, trades) {
    if (symbol !== state.symbol || fromEngine) return;
    const tick = tickSize();
    if (!tick) return;
    for (const trade of trades) {
      const key = indexOf(trade.price, tick);
      let entry = volume.get(key);
      if (!entry) {
        if (volume.size >= MAX_PRICES) continue;
        entry = [0, 0];
        volume.set(key, entry);
      }
      entry[trade.side === "sell" ? 1 : 0] += trade.size;
      if (state.since === null || trade.ts_event_ns < state.since) state.since = trade.ts_event_ns;
    }
    markDirty();
  }

  function slot(i) {
    while (pool.length <= i) {
      const tr = document.createElement("tr");
      const cells = ["num cum bid", "num size bid", "num price", "num size ask", "num cum ask", "num vol"].map((cls) => {
        const td = document.createElement("td");
        td.className = cls;
        td.innerHTML = `<div class="bar"></div><span></span>`;
        tr.append(td);
        return { td, bar: td.firstChild, span: td.lastChild, text: null, width: null };
      });
      body.append(tr);
      pool.push({ tr, cells, cls: null });
    }
    return pool[i];
  }

  function put(cell, text, width) {
    if (text !== cell.text) {
      cell.span.textContent = text;
      cell.text = text;
    }
    const w = width.toFixed(1);
    if (w !== cell.width) {
      cell.bar.style.width = `${w}%`;
      cell.width = w;
    }
  }

  function render() {
    dirty = false;
    if (!book) return;
    const tick = tickSize();
    if (!tick) return;
    state.tick = tick;
    const bids = new Map(book.bids.map(([price, size]) => [indexOf(price, tick), size]));
    const asks = new Map(book.asks.map(([price, size]) => [indexOf(price, tick), size]));
    const bestBid = book.bids.length ? indexOf(book.bids[0][0], tick) : null;
    const bestAsk = book.asks.length ? indexOf(book.asks[0][0], tick) : null;
    const mid = bestBid !== null && bestAsk !== null ? Math.round((bestBid + bestAsk) / 2) : (bestBid ?? bestAsk);
    if (mid === null) return;
    if (state.center === null || Math.abs(mid - state.center) > HALF_ROWS / 2) state.center = mid;
    const topIndex = state.center + HALF_ROWS;
    const bottomIndex = state.center - HALF_ROWS;
    // Cumulative depth from the best price outwards, over the whole book received.
    const cumAsk = new Map();
    let running = 0;
    for (const [price, size] of book.asks) cumAsk.set(indexOf(price, tick), (running += size));
    const cumBid = new Map();
    running = 0;
    for (const [price, size] of book.bids) cumBid.set(indexOf(price, tick), (running += size));
    const lastCum = (map, index, step, best) => {
      if (best === null) return null;
      if (step > 0 ? index < best : index > best) return null;
      for (let i = index; step > 0 ? i >= best : i <= best; i -= step) if (map.has(i)) return map.get(i);
      return null;
    };
    const wallPrices = new Map();
    for (const wall of [...walls.bids, ...walls.asks]) wallPrices.set(indexOf(wall.price, tick), wall);
    let biggest = 1e-12;
    let deepest = 1e-12;
    let busiest = 1e-12;
    const rows = [];
    for (let index = topIndex; index >= bottomIndex; index -= 1) {
      const bid = bids.get(index) ?? null;
      const ask = asks.get(index) ?? null;
      const cb = lastCum(cumBid, index, -1, bestBid);
      const ca = lastCum(cumAsk, index, 1, bestAsk);
      const traded = volume.get(index);
      const vol = traded ? traded[0] + traded[1] : 0;
      biggest = Math.max(biggest, bid ?? 0, ask ?? 0);
      deepest = Math.max(deepest, cb ?? 0, ca ?? 0);
      busiest = Math.max(busiest, vol);
      rows.push({ index, bid, ask, cb, ca, vol, buy: traded ? traded[0] : 0 });
    }
    const digits = decimals(tick);
    let wallCount = 0;
    rows.forEach((row, i) => {
      const entry = slot(i);
      const wall = wallPrices.get(row.index);
      const side = row.index >= (bestAsk ?? Infinity) ? "ask-row" : row.index <= (bestBid ?? -Infinity) ? "bid-row" : "inside";
      const cls = [side, row.index === bestAsk || row.index === bestBid ? "best" : "", wall ? "wall" : ""].join(" ").trim();
      if (cls !== entry.cls) {
        entry.tr.className = cls;
        entry.cls = cls;
      }
      if (wall) wallCount += 1;
      entry.tr.dataset.price = String(row.index);
      entry.tr.title = wall ? `wall: ${compact(wall.size)} (${wall.relative_size.toFixed(1)}× the side's median level)` : "";
      const [cumBidCell, bidCell, priceCell, askCell, cumAskCell, volCell] = entry.cells;
      put(cumBidCell, row.cb === null ? "" : compact(row.cb), row.cb === null ? 0 : (100 * row.cb) / deepest);
      put(bidCell, row.bid === null ? "" : `${wall && row.bid !== null ? "◆ " : ""}${compact(row.bid)}`, row.bid === null ? 0 : (100 * row.bid) / biggest);
      put(priceCell, fmt(row.index * tick, digits), 0);
      put(askCell, row.ask === null ? "" : `${compact(row.ask)}${wall && row.ask !== null ? " ◆" : ""}`, row.ask === null ? 0 : (100 * row.ask) / biggest);
      put(cumAskCell, row.ca === null ? "" : compact(row.ca), row.ca === null ? 0 : (100 * row.ca) / deepest);
      put(volCell, row.vol ? compact(row.vol) : "", (100 * row.vol) / busiest);
      volCell.td.dataset.buyShare = row.vol ? (row.buy / row.vol).toFixed(2) : "";
    });
    state.rows = rows.length;
    state.walls = wallCount;
    state.volumePrices = volume.size;
    table.dataset.center = String(state.center);
    table.dataset.tick = String(tick);
    const since = document.querySelector("#ladder-vol");
    if (since) {
      since.title = state.since === null ? "volume traded at the price (none seen yet)"
        : `volume traded at the price in the session, since ${clockText(state.since / 1e6)} ${zoneLabel()}` +
          (fromEngine ? " (the engine's count)" : " (trades this page has seen)");
      since.dataset.source = fromEngine ? "engine" : "page";
    }
  }

  function markDirty() {
    if (!dirty) {
      dirty = true;
      requestAnimationFrame(render);
    }
  }

  return {
    state,
    reset,
    addTrades,
    setProfile,
    setBook(symbol, view, wallsView) {
      if (symbol !== state.symbol) return;
      book = view;
      if (wallsView) walls = wallsView;
      markDirty();
    },
  };
}
