// The trading panels: account strip with the kill switch, positions, orders, fills and the
// intraday equity curve, polled from /api/trading/* once a second. When the API has no trader
// (the routes answer 404) every trading panel stays hidden and nothing is polled.
import { clockText } from "./timefmt.js";

const POLL_MS = 1000;
const FILLS_LIMIT = 200; // the chart's markers use them all; the table shows the first rows
const FILL_ROWS = 50;
const EQUITY_POINTS = 10000; // the most /api/trading/pnl serves: 2.8 h at the default 1 s interval

const $ = (selector) => document.querySelector(selector);
// Rounded to `digits` decimals, a negative zero (-0.001 at 2 decimals) as 0: "-0.00" never shows.
export const rounded = (value, digits) => {
  const r = Math.round(Number(value) * 10 ** digits) / 10 ** digits;
  return r === 0 ? 0 : r;
};
const number = (value, digits = 2) =>
  value === null || value === undefined || Number.isNaN(value)
    ? "—"
    : rounded(value, digits).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
// Quote-currency money with its sign (as shown, to the cent); the class colours it.
export const money = (value) =>
  value === null || value === undefined ? "—" : `${rounded(value, 2) > 0 ? "+" : ""}${number(value, 2)}`;
const signClass = (value) => (rounded(value, 2) > 0 ? "pos" : rounded(value, 2) < 0 ? "neg" : "");
const quantity = (value) => {
  if (value === null || value === undefined) return "—";
  const size = Math.abs(value);
  if (size >= 1e9) return `${(value / 1e9).toFixed(2)}B`;
  if (size >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (size >= 1e4) return `${(value / 1e3).toFixed(1)}K`;
  return String(Number(value.toPrecision(6)));
};
const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const TIF = { post_only: "PO", ioc: "IOC", gtc: "GTC", fok: "FOK" };
const clock = (ns) => clockText(ns / 1e6, true);
// A table's time cell: seconds shown, milliseconds in the title (UTC).
const timeCell = (ns) => `<td title="${clock(ns)} UTC">${clock(ns).slice(0, 8)}</td>`;
const duration = (ns) => {
  if (!(ns > 0)) return "—";
  const seconds = Math.floor(ns / 1e9);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
};

class HttpError extends Error {
  constructor(path, status) {
    super(`${path}: HTTP ${status}`);
    this.status = status;
  }
}

async function get(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new HttpError(path, response.status);
  return response.json();
}

/** The trading panels. `ui`: { price(symbol, value) -> text, onMachines(map), onChange() }. */
export function createTrading(ui) {
  const trading = {
    enabled: null, // null: not known yet; false: the API has no trader
    state: null,
    positions: [],
    orders: { open: [], recent: [] },
    fills: [],
    pnl: null,
    polls: 0,
    renderMs: 0, // main-thread time spent drawing the answers (the fetches excluded)
    lastEquityTime: null,
    token: null,
    lastCommand: null, // { path, state, ms: from the confirmation to the state shown }
  };
  let equitySeries = null;
  let equityChart = null;

  function showEnabled() {
    $("#account").hidden = false;
    $("#trading-panel").hidden = false;
    $("#scanner").classList.remove("no-trading");
    document.querySelector("main").classList.add("with-trading");
    const LC = window.LightweightCharts;
    equityChart = LC.createChart($("#equity-chart"), {
      autoSize: true,
      layout: { background: { type: "solid", color: "#161c24" }, textColor: "#d5dbe3", attributionLogo: false },
      grid: { vertLines: { visible: false }, horzLines: { color: "#1e2632" } },
      timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#263040" },
      rightPriceScale: { borderColor: "#263040" },
      handleScroll: false,
      handleScale: false,
    });
    equitySeries = equityChart.addSeries(LC.LineSeries, {
      color: "#4c8dff",
      lineWidth: 2,
      priceFormat: { type: "price", precision: 2, minMove: 0.01 },
    });
  }

  function renderState(view) {
    const badge = $("#trading-state");
    badge.dataset.state = view.state;
    badge.textContent = view.state.toUpperCase();
    badge.title = view.reason || view.state;
    $("#trading-reason").textContent = view.reason || "";
    $("#btn-halt").disabled = view.state === "halted";
    $("#btn-resume").disabled = view.state === "active";
  }

  function renderAccount() {
    const state = trading.state;
    const pnl = trading.pnl;
    const set = (id, text, value) => {
      const element = $(id);
      element.textContent = text;
      if (value !== undefined) element.className = `value ${signClass(value)}`;
    };
    if (state) {
      set("#acct-equity", number(state.equity, 2));
      set("#acct-today", money(state.daily_pnl), state.daily_pnl);
      renderState(state);
    }
    if (pnl) {
      set("#acct-realised", money(pnl.realised), pnl.realised);
      set("#acct-unrealised", money(pnl.unrealised), pnl.unrealised);
      set("#acct-fees", money(-pnl.fees), -pnl.fees);
      set("#acct-funding", money(-pnl.funding), -pnl.funding);
      set("#acct-trades", `${pnl.trades} (${pnl.wins} won)`);
    }
  }

  function renderPositions() {
    const now = trading.state ? trading.state.as_of_ns : 0;
    $("#positions-count").textContent = String(trading.positions.length);
    $("#positions tbody").innerHTML = trading.positions
      .map((p) => {
        const price = (value) => (value === null ? "—" : ui.price(p.symbol, value));
        return (
          `<tr data-symbol="${p.symbol}" class="${p.side}"><td>${p.symbol}</td>` +
          `<td class="${p.side === "long" ? "pos" : "neg"}">${p.side}</td>` +
          `<td class="num">${quantity(p.qty)}</td><td class="num">${price(p.entry_price)}</td>` +
          `<td class="num">${price(p.mark)}</td>` +
          `<td class="num ${signClass(p.unrealised)}">${money(p.unrealised)}</td>` +
          `<td class="num">${price(p.stop_price)}</td><td class="num">${price(p.take_profit)}</td>` +
          `<td class="num">${p.since_ns ? duration(now - p.since_ns) : "—"}</td>` +
          `<td class="machine" data-state="${p.state}">${p.state.replaceAll("_", " ")}</td></tr>`
        );
      })
      .join("");
  }

  // A resting paper order's place in its queue: lots ahead and the share of the level ahead.
  const queueCell = (q) =>
    q ? `<span title="${quantity(q.ahead)} ahead of ${quantity(q.level)} at the level">${q.ahead_lots === null ? quantity(q.ahead) : quantity(q.ahead_lots)}${q.ahead_lots === null ? "" : " lots"} · ${Math.round(q.fraction * 100)}%</span>` : "";

  function renderOrders() {
    const { open, recent } = trading.orders;
    $("#orders-count").textContent = `${open.length} open`;
    const row = (o) =>
      `<tr data-symbol="${o.symbol}" data-client-id="${o.client_id}" class="${o.status}">${timeCell(o.updated_ns)}<td>${o.symbol}</td>` +
      `<td class="${o.side === "buy" ? "pos" : "neg"}">${o.side}${o.reduce_only ? " (reduce)" : ""}</td>` +
      `<td>${o.order_type} ${TIF[o.time_in_force] ?? o.time_in_force}</td><td class="num">${o.filled_qty && o.filled_qty < o.qty ? `${quantity(o.filled_qty)}/` : ""}${quantity(o.qty)}</td>` +
      `<td class="num">${o.price === null ? "market" : ui.price(o.symbol, o.price)}</td>` +
      `<td class="num queue">${queueCell(o.queue)}</td>` +
      `<td title="${escape(o.reason)}">${o.status}</td></tr>`;
    $("#orders tbody").innerHTML = [...open.map(row), ...recent.slice(0, 20).map(row)].join("");
  }

  function renderFills() {
    $("#fills tbody").innerHTML = trading.fills
      .slice(0, FILL_ROWS)
      .map(
        (f) =>
          `<tr data-symbol="${f.symbol}" data-client-id="${f.client_id}" class="${f.intent}">${timeCell(f.ts_ns)}<td>${f.symbol}</td>` +
          `<td class="${f.side === "buy" ? "pos" : "neg"}">${f.side} ${f.intent}</td>` +
          `<td class="num">${ui.price(f.symbol, f.price)}</td><td class="num">${quantity(f.qty)}</td>` +
          `<td class="num" title="${f.liquidity}">${number(f.fee, 4)} ${f.liquidity === "maker" ? "M" : "T"}</td></tr>`,
      )
      .join("");
  }

  // The equity curve: one point per second of event time (the line series wants strictly
  // increasing times); the first poll loads the day, later ones append.
  function renderEquity(curve, full) {
    const points = [];
    for (const point of curve) {
      const time = Math.floor(point.ts_ns / 1e9);
      if (points.length && points[points.length - 1].time === time) points[points.length - 1].value = point.equity;
      else if (!points.length || time > points[points.length - 1].time) points.push({ time, value: point.equity });
    }
    const element = $("#equity-chart");
    if (full) {
      equitySeries.setData(points);
      equityChart.timeScale().fitContent();
      element.dataset.points = String(points.length);
    } else {
      let added = 0;
      for (const point of points) {
        if (point.time < trading.lastEquityTime) continue;
        if (point.time > trading.lastEquityTime) added += 1;
        equitySeries.update(point);
      }
      element.dataset.points = String(Number(element.dataset.points) + added);
    }
    if (points.length) trading.lastEquityTime = Math.max(trading.lastEquityTime ?? 0, points[points.length - 1].time);
  }

  async function poll() {
    const started = performance.now();
    try {
      const full = trading.lastEquityTime === null;
      const [state, positions, orders, fills, pnl] = await Promise.all([
        get("/api/trading/state"),
        get("/api/trading/positions"),
        get("/api/trading/orders?limit=20"),
        get(`/api/trading/fills?limit=${FILLS_LIMIT}`),
        get(`/api/trading/pnl?points=${full ? EQUITY_POINTS : 5}`),
      ]);
      const rendering = performance.now();
      if (trading.enabled === null) {
        trading.enabled = true;
        showEnabled();
      }
      trading.state = state;
      trading.positions = positions.positions;
      trading.orders = orders;
      trading.fills = fills.fills;
      trading.pnl = pnl;
      renderAccount();
      renderPositions();
      renderOrders();
      renderFills();
      renderEquity(pnl.equity_curve, full);
      trading.polls += 1;
      $("#account").dataset.polls = String(trading.polls);
      ui.onMachines(state.symbols);
      ui.onChange();
      trading.renderMs += performance.now() - rendering;
    } catch (error) {
      if (trading.enabled === null && error instanceof HttpError && error.status === 404) {
        trading.enabled = false; // no trader behind this API: the panels stay hidden
        return;
      }
      if (trading.enabled) $("#trading-message").textContent = `update failed: ${error.message}`;
    }
    setTimeout(poll, Math.max(100, POLL_MS - (performance.now() - started))); // once a second
  }

  async function token(refresh) {
    if (!trading.token || refresh) trading.token = (await get("/api/trading/token")).token;
    return trading.token;
  }

  // A write command; its answer (the trading state after it) is shown at once.
  async function command(path, body) {
    const message = $("#trading-message");
    message.textContent = "";
    const sent = performance.now();
    for (const refresh of [false, true]) {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${await token(refresh)}` },
        body: JSON.stringify(body ?? {}),
      });
      if (response.status === 401 && !refresh) continue; // the token changed: fetch it again
      const answer = await response.json();
      if (!response.ok) {
        message.textContent = `${path}: ${answer.message ?? response.status}`;
        return;
      }
      renderState(answer);
      trading.lastCommand = { path, state: answer.state, ms: performance.now() - sent };
      if (answer.exits_sent) message.textContent = `${answer.exits_sent} exit order(s) sent`;
      return;
    }
  }

  function bindButtons() {
    $("#btn-halt").addEventListener("click", () => {
      if (confirm("Halt trading? Entries are cancelled; no new position is opened until Resume.")) {
        command("/api/trading/halt", { reason: "kill switch (dashboard)" }).catch(showError);
      }
    });
    $("#btn-resume").addEventListener("click", () => {
      command("/api/trading/resume").catch(showError);
    });
    $("#btn-flatten").addEventListener("click", () => {
      if (confirm("Close every position at market and cancel every entry?")) {
        command("/api/trading/flatten").catch(showError);
      }
    });
  }
  const showError = (error) => {
    $("#trading-message").textContent = String(error.message ?? error);
  };

  // Whether the API serves a trader, from its OpenAPI paths: asking /api/trading/state of an
  // API without one would answer 404, which the browser logs as an error on every page load.
  async function served() {
    try {
      const schema = await get("/openapi.json");
      return "/api/trading/state" in (schema.paths ?? {});
    } catch {
      return true; // no schema: ask the route itself (a 404 then hides the panels)
    }
  }

  trading.start = async () => {
    if (!(await served())) {
      trading.enabled = false;
      return;
    }
    bindButtons();
    poll();
    token(false).catch(showError); // ready before the kill switch is needed
  };
  return trading;
}
