// The trades tape: prints of the same millisecond and side grouped into one row, and "large"
// relative to the symbol's own trades: at or above the rolling 99th percentile of the notional
// of its last SAMPLE trades (the API's flat `large` flag until MIN_SAMPLES trades are seen).

import { clockText } from "./timefmt.js";

const SAMPLE = 2000;
const MIN_SAMPLES = 100;
const QUANTILE = 0.99;

// One symbol's rolling notional sample, fed with each trade once (by trade id).
class NotionalSample {
  constructor() {
    this.values = [];
    this.seen = new Set();
    this.order = [];
    this.threshold = null;
  }

  add(trades) {
    let added = 0;
    for (let i = trades.length - 1; i >= 0; i -= 1) {
      const trade = trades[i]; // oldest first
      if (this.seen.has(trade.trade_id)) continue;
      this.seen.add(trade.trade_id);
      this.order.push(trade.trade_id);
      this.values.push(trade.notional);
      added += 1;
    }
    while (this.values.length > SAMPLE) this.values.shift();
    while (this.order.length > 2 * SAMPLE) this.seen.delete(this.order.shift());
    if (added && this.values.length >= MIN_SAMPLES) {
      const sorted = [...this.values].sort((a, b) => a - b);
      this.threshold = sorted[Math.min(sorted.length - 1, Math.floor(QUANTILE * sorted.length))];
    }
  }
}

// Newest-first trades -> newest-first rows, consecutive prints of one millisecond and side as one
// (its price: the newest print's; low and high: the range it swept).
export function groupPrints(trades) {
  const groups = [];
  for (const trade of trades) {
    const ms = Math.floor(trade.ts_event_ns / 1e6);
    const last = groups[groups.length - 1];
    if (last && last.ms === ms && last.side === trade.side) {
      last.count += 1;
      last.size += trade.size;
      last.notional += trade.notional;
      last.large = last.large || trade.large;
      last.low = Math.min(last.low, trade.price);
      last.high = Math.max(last.high, trade.price);
    } else {
      groups.push({ ...trade, ms, count: 1, low: trade.price, high: trade.price });
    }
  }
  return groups;
}

export function createTape({ fmt, compact, price }) {
  const samples = new Map();
  const body = document.querySelector("#tape tbody");
  const label = document.querySelector("#tape-label");
  const state = { threshold: null, samples: 0, rows: 0, grouped: 0 };

  function sampleOf(symbol) {
    let sample = samples.get(symbol);
    if (!sample) {
      sample = new NotionalSample();
      samples.set(symbol, sample);
    }
    return sample;
  }

  function render(symbol, trades) {
    const sample = sampleOf(symbol);
    sample.add(trades);
    const threshold = sample.threshold;
    const groups = groupPrints(trades);
    body.innerHTML = groups
      .map((g) => {
        const large = threshold === null ? g.large : g.notional >= threshold;
        const time = clockText(g.ms, true);
        const range = g.low === g.high ? "" : ` title="${price(symbol, g.low)} to ${price(symbol, g.high)}"`;
        return (
          `<tr class="${g.side}${large ? " large" : ""}" data-count="${g.count}"><td>${time}</td>` +
          `<td class="num"${range}>${price(symbol, g.price)}</td>` +
          `<td class="num">${compact(g.size)}</td><td class="num">${compact(g.notional)}</td>` +
          `<td class="num count">${g.count > 1 ? `×${g.count}` : ""}</td></tr>`
        );
      })
      .join("");
    state.threshold = threshold;
    state.samples = sample.values.length;
    state.rows = groups.length;
    state.grouped = trades.length - groups.length;
    label.textContent =
      threshold === null
        ? `large ≥ the API's flat threshold (${sample.values.length}/${MIN_SAMPLES} trades seen)`
        : `large ≥ p99 of the last ${sample.values.length} trades: ${compact(threshold)}`;
    label.dataset.threshold = threshold === null ? "" : String(threshold);
  }

  // Seeds a symbol's sample with its recent trades (the API keeps the last few hundred).
  const seed = (symbol, trades) => sampleOf(symbol).add(trades);

  return { render, seed, state };
}
