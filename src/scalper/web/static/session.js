// Session figures of the chart's candles and its crosshair readout. The session starts at
// 00:00 UTC of the newest candle's day; when the candles loaded start later, the session's
// origin is the first candle (the label says which): cumulative delta (CVD) and VWAP count
// from that origin.

import { clockText } from "./timefmt.js";

const DAY_NS = 86_400_000_000_000;

const hhmm = (ns) => new Date(ns / 1e6).toISOString().slice(11, 16);

// candles: oldest first. Returns the origin, its label and per-candle CVD and VWAP.
export function sessionSeries(candles, deltaOf = (c) => c.delta) {
  if (!candles.length) return { originNs: null, label: "CVD", cvd: [], vwap: [] };
  const last = candles[candles.length - 1].start_ns;
  const midnight = last - (last % DAY_NS);
  const inSession = candles.filter((c) => c.start_ns >= midnight);
  const originNs = inSession[0].start_ns;
  const label = originNs === midnight ? "CVD since 00:00 UTC" : `CVD since ${hhmm(originNs)} UTC`;
  let delta = 0;
  let turnover = 0;
  let volume = 0;
  const cvd = [];
  const vwap = [];
  for (const c of inSession) {
    delta += deltaOf(c);
    turnover += c.turnover;
    volume += c.volume;
    cvd.push({ start_ns: c.start_ns, value: delta });
    if (volume > 0) vwap.push({ start_ns: c.start_ns, value: turnover / volume });
  }
  return { originNs, label, cvd, vwap };
}

// The readout over the chart: the candle under the crosshair (the newest without one).
export function createReadout(element, { price, compact }) {
  let candles = [];
  let hovered = null;
  const byTime = new Map();

  function show(candle) {
    if (!candle) {
      element.textContent = "";
      return;
    }
    const time = clockText(candle.start_ns / 1e6);
    const delta = candle.buy_volume - candle.sell_volume;
    const up = candle.close >= candle.open;
    const field = (key, value, cls = "") => `<span class="k">${key}</span> <span class="v ${cls}" data-field="${key}">${value}</span>`;
    element.innerHTML = [
      `<span class="v" data-field="time">${time}</span>`,
      field("O", price(candle.open), up ? "pos" : "neg"),
      field("H", price(candle.high), up ? "pos" : "neg"),
      field("L", price(candle.low), up ? "pos" : "neg"),
      field("C", price(candle.close), up ? "pos" : "neg"),
      field("Vol", compact(candle.volume)),
      field("Buy", compact(candle.buy_volume), "pos"),
      field("Sell", compact(candle.sell_volume), "neg"),
      field("Δ", compact(delta), delta > 0 ? "pos" : delta < 0 ? "neg" : ""),
    ].join(" ");
    element.dataset.time = String(Math.floor(candle.start_ns / 1e9));
  }

  return {
    setCandles(list, toTime) {
      candles = list;
      byTime.clear();
      for (const c of list) byTime.set(toTime(c), c);
      show(hovered !== null && byTime.has(hovered) ? byTime.get(hovered) : candles[candles.length - 1]);
    },
    onCrosshair(param) {
      hovered = param && param.time !== undefined ? param.time : null;
      show(hovered !== null && byTime.has(hovered) ? byTime.get(hovered) : candles[candles.length - 1]);
      element.dataset.hovered = hovered === null ? "" : String(hovered);
    },
  };
}
